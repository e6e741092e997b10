"""The database itself refuses a second active model for a group (no service involved)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import ModelCapability


def refused(statement, params=None) -> None:
    """The database refuses ``statement`` (an IntegrityError at the commit at the latest)."""
    with pytest.raises(IntegrityError):
        db.session.execute(statement, params)
        db.session.commit()
    db.session.rollback()


def test_second_active_row_is_refused_by_the_database(make_provider, make_model):
    p = make_provider()
    a = make_model(p, caps=["chat"], active=True)
    b = make_model(p, caps=["chat"])
    refused(
        update(ModelCapability)
        .where(ModelCapability.model_id == b.id, ModelCapability.capability == "chat")
        .values(is_active=True)
    )
    # Raw SQL too.
    refused(
        text("UPDATE model_capability SET is_active = :t WHERE model_id = :m"),
        {"t": True, "m": b.id},
    )
    assert db.session.get(ModelCapability, (a.id, "chat")).is_active


def test_inactive_rows_are_not_limited(make_provider, make_model):
    p = make_provider()
    for _ in range(3):
        make_model(p, caps=["chat"])  # three inactive rows in one group are fine


def test_capability_outside_the_vocabulary_is_refused(make_provider, make_model):
    m = make_model(make_provider(), caps=["chat"])
    refused(
        insert(ModelCapability).values(
            model_id=m.id, provider_id=m.provider_id, capability="telepathy", is_active=False
        )
    )


def test_capability_row_must_match_its_models_provider(make_provider, make_model):
    m = make_model(make_provider(), caps=["chat"])
    other = make_provider()
    refused(
        insert(ModelCapability).values(
            model_id=m.id, provider_id=other.id, capability="code", is_active=False
        )
    )
