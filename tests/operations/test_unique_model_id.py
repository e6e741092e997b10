"""One provider cannot register one model id twice: two rows for ``openai/gpt-4o`` would
make "which model is that?" ambiguous (the gateway's ``<provider>/<model>`` finds a
model by name or model id). Refused with a Persian message on every way in (API,
dashboard form, ``ai import``), by the database as a last word, and the migration
stops with the list of duplicates when existing data has some."""

from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy import func, select

from tests import support
from webapp.errors import ValidationError
from webapp.extensions import db
from webapp.models import AIModel, AuditEvent
from webapp.operations import catalog, importer

TAKEN = "این ارائه‌دهنده از قبل مدلی با این شناسهٔ مدل دارد."


def _state():
    db.session.expire_all()
    return (
        sorted(db.session.execute(select(AIModel.name, AIModel.model_id)).all()),
        db.session.scalar(select(func.count()).select_from(AuditEvent)),
    )


@pytest.fixture
def openai(make_provider, make_model):
    provider = make_provider("openai")
    make_model(provider, "gpt-4o", model_id="openai/gpt-4o")
    make_model(provider, "gpt-4o-mini", model_id="openai/gpt-4o-mini")
    return provider


def test_service_refuses_a_second_model_with_the_same_model_id(openai):
    before = _state()
    with pytest.raises(ValidationError) as refused:
        catalog.create_model(
            openai,
            {
                "name": "gpt4o-again",
                "model_id": "openai/gpt-4o",
                "display_name": "Again",
                "capabilities": ["chat"],
            },
        )
    assert refused.value.field == "model_id" and str(refused.value.message) == TAKEN
    assert _state() == before


def test_the_same_model_id_in_another_provider_is_fine(openai, make_provider, make_model):
    other = make_provider("openrouter")
    assert make_model(other, "gpt-4o", model_id="openai/gpt-4o").model_id == "openai/gpt-4o"


def test_api_create_and_edit_refuse_a_taken_model_id(client, openai, bearer):
    auth = bearer()
    before = _state()
    created = client.post(
        "/api/v1/ai-models/",
        headers=auth,
        json={
            "provider": "openai",
            "name": "dup",
            "model_id": "openai/gpt-4o",
            "display_name": "Dup",
            "capabilities": ["chat"],
        },
    )
    assert created.status_code == 400
    assert created.get_json()["errors"] == {"model_id": [TAKEN]}
    mini = db.session.scalar(select(AIModel.id).where(AIModel.name == "gpt-4o-mini"))
    edited = client.patch(
        f"/api/v1/ai-models/{mini}/", headers=auth, json={"model_id": "openai/gpt-4o"}
    )
    assert edited.status_code == 400
    assert edited.get_json()["errors"] == {"model_id": [TAKEN]}
    same = client.patch(
        f"/api/v1/ai-models/{mini}/", headers=auth, json={"model_id": "openai/gpt-4o-mini"}
    )
    assert same.status_code == 200  # keeping its own model id is not a clash
    assert _state() == before


def test_dashboard_form_shows_the_clash_under_the_field(login_as, post, openai):
    client = login_as("operator")
    before = _state()
    dup = support.model_fields("dup", "openai", model_id="openai/gpt-4o")
    response = post(client, "/models/new", dup)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert TAKEN in body
    assert _state() == before

    mini = db.session.scalar(select(AIModel).where(AIModel.name == "gpt-4o-mini"))
    clash = support.model_fields(mini.name, "openai", model_id="openai/gpt-4o", display_name="Mini")
    response = post(client, f"/models/{mini.id}/edit", clash)
    assert response.status_code == 400 and TAKEN in response.get_data(as_text=True)
    assert _state() == before


def test_import_refuses_two_models_with_one_model_id(app):
    dump = [
        {"model": "ai.aiprovider", "pk": 1, "fields": {"slug": "openai", "name": "OpenAI"}},
        {
            "model": "ai.aimodel",
            "pk": 1,
            "fields": {
                "provider": 1,
                "name": "gpt-4o",
                "model_id": "openai/gpt-4o",
                "capabilities": ["chat"],
            },
        },
        {
            "model": "ai.aimodel",
            "pk": 2,
            "fields": {
                "provider": 1,
                "name": "gpt-4o-latest",
                "model_id": "openai/gpt-4o",
                "capabilities": ["chat"],
            },
        },
    ]
    before = _state()
    with pytest.raises(ValidationError) as refused:
        importer.run_import(json.dumps(dump))
    assert TAKEN in str(refused.value.message)
    assert "3" in str(refused.value.message)  # the record's number
    assert _state() == before


# --- the migration -------------------------------------------------------------------------


def test_migration_stops_and_lists_existing_duplicates(tmp_path):
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    assert support.flask_db(url, "upgrade", "0005_cache_generation").returncode == 0
    with sqlite3.connect(path) as conn:
        now = "2024-01-01 00:00:00"
        conn.execute(
            "INSERT INTO provider (id, slug, name, base_url, is_enabled, shared_api_enabled,"
            " shared_api_key_hint, created_at, updated_at) "
            "VALUES (1, 'openai', 'OpenAI', '', 1, 0, '', ?, ?)",
            (now, now),
        )
        for i, name in enumerate(["gpt-4o", "gpt-4o-copy", "gpt-4o-third", "other"], 1):
            conn.execute(
                "INSERT INTO ai_model (id, provider_id, name, model_id, display_name,"
                " description, created_at, updated_at) VALUES (?, 1, ?, ?, ?, '', ?, ?)",
                (i, name, "other/x" if name == "other" else "openai/gpt-4o", name, now, now),
            )
    failed = support.flask_db(url, "upgrade")
    assert failed.returncode != 0
    assert "openai" in failed.stderr and "openai/gpt-4o" in failed.stderr
    assert "gpt-4o-copy" in failed.stderr and "gpt-4o-third" in failed.stderr
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            "0005_cache_generation",
        )
        conn.execute("UPDATE ai_model SET model_id = 'openai/gpt-4o-2' WHERE id = 2")
        conn.execute("UPDATE ai_model SET model_id = 'openai/gpt-4o-3' WHERE id = 3")
    fixed = support.flask_db(url, "upgrade")
    assert fixed.returncode == 0, fixed.stderr
    down = support.flask_db(url, "downgrade", "0005_cache_generation")
    assert down.returncode == 0, down.stderr
