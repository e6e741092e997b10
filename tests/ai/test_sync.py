"""Catalogue sync and test connection, against the loopback provider."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.ai.fake_provider import Reply
from tests.support import PERSONAL_KEY, SHARED_KEY
from webapp.ai import calls, sync
from webapp.ai.client import parse_retry_after
from webapp.ai.errors import ProviderAuthError
from webapp.errors import NoApiAccess, NotFound, ValidationError
from webapp.models import AIModel, AuditEvent


def model_ids(db, provider) -> set[str]:
    db.session.expire_all()
    return set(
        db.session.scalars(select(AIModel.model_id).where(AIModel.provider_id == provider.id))
    )


# --- guessing capabilities --------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "caps", "source"),
    [
        (
            {
                "id": "openai/gpt-4o",
                "architecture": {
                    "input_modalities": ["text", "image"],
                    "output_modalities": ["text"],
                },
            },
            ["chat", "vision"],
            "provider",
        ),
        (
            {
                "id": "google/gemini-2.5-flash-image",
                "architecture": {
                    "input_modalities": ["text", "image"],
                    "output_modalities": ["image", "text"],
                },
            },
            ["chat", "image", "vision"],
            "provider",
        ),
        ({"id": "x/y", "architecture": {"modality": "text->text"}}, ["chat"], "provider"),
        ({"id": "dall-e-3"}, ["image"], "id"),
        ({"id": "gpt-image-1"}, ["image"], "id"),
        ({"id": "text-embedding-3-small"}, ["embedding"], "id"),
        ({"id": "whisper-1"}, ["transcription"], "id"),
        ({"id": "gpt-4o-transcribe"}, ["transcription"], "id"),
        ({"id": "tts-1-hd"}, ["speech"], "id"),
        ({"id": "gpt-4o-mini-tts"}, ["speech"], "id"),
        ({"id": "deepseek-coder"}, ["chat", "code"], "id"),
        ({"id": "gpt-4o-mini"}, ["chat"], "default"),
    ],
)
def test_guess_capabilities(entry, caps, source):
    assert sync.guess_capabilities(entry) == (caps, source)


def test_model_name_for_fits_the_name_rules():
    assert sync.model_name_for("openai/gpt-4o:free", set()) == "openai/gpt-4o:free"
    assert sync.model_name_for("weird name!", set()) == "weird-name-"
    assert sync.model_name_for("a", {"a", "a-2"}) == "a-3"


# --- sync -------------------------------------------------------------------------------


def test_missing_models_lists_only_unregistered_ones(provider, make_model, fake_provider):
    make_model(provider, "gpt-4o", caps=["chat"], model_id="openai/gpt-4o")

    missing = sync.missing_models("openrouter")

    ids = [m.model_id for m in missing]
    assert "openai/gpt-4o" not in ids
    assert ids == sorted(ids, key=str.lower)
    by_id = {m.model_id: m for m in missing}
    assert by_id["dall-e-3"].capabilities == ("image",)
    assert by_id["google/gemini-2.5-flash-image"].display_name == "Google: Gemini 2.5 Flash Image"
    assert fake_provider.seen("/models")[0].authorization == f"Bearer {SHARED_KEY}"


def test_sync_adds_exactly_the_missing_models_inactive_and_is_idempotent(
    db, provider, make_model, fake_provider
):
    make_model(provider, "gpt-4o", caps=["chat"], model_id="openai/gpt-4o", active=True)
    before = model_ids(db, provider)

    missing = sync.missing_models(provider)
    chosen = [
        {"model_id": m.model_id, "display_name": m.display_name, "capabilities": m.capabilities}
        for m in missing
    ]
    created = sync.add_models(provider, chosen, actor="test")

    listed = {m["id"] for m in fake_provider.models}
    assert model_ids(db, provider) == before | listed
    assert len(created) == len(listed - before)
    for model in created:
        assert model.is_active is False
    assert sync.missing_models(provider) == []
    assert sync.add_models(provider, chosen, actor="test") == []  # second sync: nothing
    assert model_ids(db, provider) == before | listed
    count = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "model.create")
    )
    assert count == 1 + len(created)


def test_add_models_keeps_edited_capabilities_and_is_all_or_nothing(db, provider):
    created = sync.add_models(
        provider, [{"model_id": "local-chat", "capabilities": ["chat", "code"]}], actor="test"
    )
    assert created[0].capabilities == ["chat", "code"]
    assert created[0].display_name == "local-chat"

    with pytest.raises(ValidationError):
        sync.add_models(
            provider,
            [
                {"model_id": "good-one", "capabilities": ["chat"]},
                {"model_id": "bad-one", "capabilities": []},
            ],
            actor="test",
        )
    assert "good-one" not in model_ids(db, provider)


def test_sync_without_access_sends_nothing(make_provider, fake_provider):
    p = make_provider("nokey", base_url=fake_provider.url)
    with pytest.raises(NoApiAccess):
        sync.missing_models(p)
    assert fake_provider.requests == []


def test_sync_refused_key(provider, fake_provider):
    fake_provider.always("GET", "/models", Reply(401))
    with pytest.raises(ProviderAuthError):
        sync.missing_models(provider)


# --- test connection --------------------------------------------------------------------


def test_connection_ok_with_the_admins_key(make_admin, provider, give_personal_key, fake_provider):
    admin = make_admin("admin")
    give_personal_key(admin, provider)

    check = calls.check_connection("openrouter", admin)

    assert check.ok is True
    assert check.model_count == len(fake_provider.models)
    assert check.key_source == "personal"
    assert check.latency_ms >= 0
    assert check.message == "اتصال برقرار است."
    assert fake_provider.seen("/models")[0].authorization == f"Bearer {PERSONAL_KEY}"


def test_connection_failures_are_results_not_exceptions(
    make_admin, make_provider, provider, fake_provider, dead_url
):
    fake_provider.always("GET", "/models", Reply(403))
    refused = calls.check_connection(provider)
    assert (refused.ok, refused.error_kind) == (False, "auth")
    assert refused.key_source == "shared"

    no_access = calls.check_connection(provider, make_admin("viewer"))
    assert (no_access.ok, no_access.error_kind) == (False, "no_api_access")

    dead = make_provider(
        "dead", base_url=dead_url, shared_api_enabled=True, shared_api_key=SHARED_KEY
    )
    unreachable = calls.check_connection(dead)
    assert (unreachable.ok, unreachable.error_kind) == (False, "unreachable")
    assert unreachable.message.startswith("دسترسی به ارائه‌دهنده ممکن نیست")

    with pytest.raises(NotFound):
        calls.check_connection("no-such-provider")


def test_connection_is_recorded(db, make_admin, provider, fake_provider):
    admin = make_admin("admin")
    calls.check_connection(provider, admin)
    db.session.expire_all()
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "ai.call"))
    assert event.after["operation"] == "models"
    assert event.after["outcome"] == "ok"
    assert event.actor_name == admin.username


# --- client details ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, None), ("", None), ("0", 0.0), ("2.5", 2.5), ("-3", 0.0), ("soon", None)],
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value) == seconds


def test_retry_after_http_date_in_the_past_is_zero():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
