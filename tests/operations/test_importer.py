"""``ai import``: the migration path from the seed's Django system."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from webapp import secrets
from webapp.errors import ValidationError
from webapp.extensions import db
from webapp.models import AIModel, AuditEvent, ModelCapability, Provider
from webapp.operations import importer
from webapp.queries.lookup import get_active_model

DUMP = Path(__file__).parent.parent / "data" / "django_dump.json"


def state():
    rows = db.session.execute(
        select(Provider.slug, AIModel.name, ModelCapability.capability, ModelCapability.is_active)
        .join(AIModel, AIModel.id == ModelCapability.model_id)
        .join(Provider, Provider.id == AIModel.provider_id)
        .order_by(Provider.slug, AIModel.name, ModelCapability.capability)
    ).all()
    audits = db.session.scalar(select(func.count()).select_from(AuditEvent))
    return rows, audits


def active_name(slug, cap):
    model = get_active_model(slug, cap)
    return model.name if model else None


def test_import_reports_every_conflict_and_keeps_newest(app):
    report = importer.run_import(DUMP.read_bytes())

    conflicts = {(c.provider, c.capability): c for c in report.conflicts}
    # openrouter chat: gpt-4o, claude-3.5, llama active; openai image: dall-e-3, gpt-image-1.
    assert set(conflicts) == {("openrouter", "chat"), ("openai", "image")}
    assert sorted(conflicts["openrouter", "chat"].models) == [
        "claude-3.5",
        "gpt-4o",
        "llama-3.1-70b",
    ]
    assert conflicts["openrouter", "chat"].kept == "claude-3.5"  # updated 2025-01-27
    assert conflicts["openai", "image"].kept == "gpt-image-1"
    assert all(
        c.message == "Several active models for one Provider+Capability are not allowed"
        or "چندین مدل فعال" in c.message
        for c in report.conflicts
    )
    assert report.providers_created == 2 and report.models_created == 7
    assert active_name("openrouter", "chat") == "claude-3.5"
    assert active_name("openrouter", "code") == "gpt-4o"  # no conflict for code
    assert active_name("openai", "image") == "gpt-image-1"
    assert active_name("openai", "embedding") == "text-embedding-3-small"  # caps given as text


def test_import_keep_oldest(app):
    report = importer.run_import(DUMP.read_bytes(), keep="oldest")
    kept = {(c.provider, c.capability): c.kept for c in report.conflicts}
    assert kept == {("openrouter", "chat"): "llama-3.1-70b", ("openai", "image"): "dall-e-3"}
    assert active_name("openrouter", "chat") == "llama-3.1-70b"
    assert active_name("openai", "image") == "dall-e-3"


def test_second_import_changes_nothing(app):
    importer.run_import(DUMP.read_bytes())
    before = state()
    report = importer.run_import(DUMP.read_bytes())
    assert not report.changed
    assert state() == before  # not even an audit event


def test_dry_run_writes_nothing(app):
    before = state()
    report = importer.run_import(DUMP.read_bytes(), dry_run=True)
    assert report.models_created == 7 and len(report.conflicts) == 2
    assert state() == before


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b'{"model": "ai.aimodel"}',
        json.dumps([{"model": "auth.user", "pk": 1, "fields": {}}]).encode(),
        json.dumps(
            [
                {
                    "model": "ai.aimodel",
                    "pk": 1,
                    "fields": {"provider": 99, "name": "x", "capabilities": ["chat"]},
                }
            ]
        ).encode(),
        json.dumps(
            [
                {"model": "ai.aiprovider", "pk": 1, "fields": {"slug": "p", "name": "P"}},
                {
                    "model": "ai.aimodel",
                    "pk": 1,
                    "fields": {"provider": 1, "name": "x", "capabilities": ["telepathy"]},
                },
            ]
        ).encode(),
        "\udcff".encode("utf-8", "surrogatepass"),
    ],
    ids=[
        "not-json",
        "not-a-list",
        "unknown-record",
        "unknown-provider",
        "unknown-capability",
        "not-utf8",
    ],
)
def test_bad_files_are_refused_and_change_nothing(app, make_provider, payload):
    make_provider("existing")
    before = state()
    with pytest.raises(ValidationError):
        importer.run_import(payload)
    assert state() == before
    assert db.session.scalar(select(func.count()).select_from(Provider)) == 1


def test_shared_keys_carried_over_with_the_old_secret_key(app):
    old_key = "django-insecure-old-secret"
    token = Fernet(base64.urlsafe_b64encode(hashlib.sha256(old_key.encode()).digest()))
    secret = token.encrypt(b"sk-or-live-123456789").decode()
    records = json.loads(DUMP.read_text())
    records[0]["fields"]["shared_api_key"] = secret
    raw = json.dumps(records)

    skipped = importer.run_import(raw, dry_run=True)
    assert skipped.keys_skipped == 1

    report = importer.run_import(raw, django_secret_key=old_key)
    assert report.keys_imported == 1
    provider = db.session.scalar(select(Provider).where(Provider.slug == "openrouter"))
    assert provider.shared_api_key_encrypted != secret  # re-encrypted under our keys
    assert secrets.decrypt(provider.shared_api_key_encrypted) == "sk-or-live-123456789"
    assert provider.shared_api_key_hint == "…6789"
    # Wrong old key: refused, nothing changed.
    before = state()
    with pytest.raises(ValidationError):
        importer.run_import(raw, django_secret_key="wrong")
    assert state() == before


def test_cli_import_prints_conflicts_and_is_idempotent(runner):
    first = runner.invoke(args=["ai", "import", str(DUMP)])
    assert first.exit_code == 0, first.output
    assert first.output.count("چندین مدل فعال برای یک Provider+Capability مجاز نیست") == 2
    assert "kept claude-3.5" in first.output and "kept gpt-image-1" in first.output
    second = runner.invoke(args=["ai", "import", str(DUMP), "--keep", "newest"])
    assert second.exit_code == 0
    assert "nothing changed" in second.output


def test_cli_import_bad_file_is_one_line(runner, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[{]")
    result = runner.invoke(args=["ai", "import", str(bad)])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "JSON" in result.output and len(result.output.strip().splitlines()) == 1
