"""The committed migrations build the schema the models describe, on both databases."""

from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from tests import support
from webapp.extensions import db

PG_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")


def differences(url: str) -> list:
    from webapp.config import _normalise_database_url

    engine = create_engine(_normalise_database_url(url))
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, db.metadata)
    finally:
        engine.dispose()


def test_upgrade_on_blank_sqlite_matches_models(app, tmp_path):
    url = f"sqlite:///{tmp_path / 'blank.db'}"
    result = support.flask_db(url, "upgrade")
    assert result.returncode == 0, result.stderr
    assert differences(url) == []
    engine = create_engine(url)
    indexes = {i["name"]: i for i in inspect(engine).get_indexes("model_capability")}
    engine.dispose()
    assert indexes["uq_model_capability_one_active"]["unique"]


@pytest.mark.postgres
def test_upgrade_on_blank_postgresql_matches_models(app):
    url = support.create_database(PG_URL, f"mcp_migrate_{os.getpid()}")
    try:
        result = support.flask_db(url, "upgrade")
        assert result.returncode == 0, result.stderr
        assert differences(url) == []
        again = support.flask_db(url, "upgrade")  # idempotent: nothing left to do
        assert again.returncode == 0
    finally:
        support.drop_database(PG_URL, url)
