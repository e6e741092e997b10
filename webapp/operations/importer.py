"""``ai import``: bring providers and models over from the seed's Django system.

The file is a ``dumpdata`` JSON list of ``ai.aiprovider`` and ``ai.aimodel``
records. Such exports often hold several active models for one provider and
capability; each such group is reported (``multiple_active_models``) and one model
kept by ``keep``: ``newest`` or ``oldest`` by ``updated_at``. The import is one
transaction (nothing is written if any record is bad) and idempotent: providers
are matched by slug, models by (provider, name), and importing the same file twice
changes nothing the second time.

Groups the file has no active model for are left as they are here.
Shared keys in the file are Fernet tokens under the old system's key,
``base64(SHA256(SECRET_KEY))``; with ``django_secret_key`` they are decrypted and
re-encrypted under ours, without it they are skipped (and counted).
"""

from __future__ import annotations

import base64
import hashlib
import json
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp import messages, secrets
from webapp.capabilities import is_capability, sort_capabilities
from webapp.db import transactional
from webapp.errors import ValidationError
from webapp.extensions import db
from webapp.models import AIModel, Provider
from webapp.operations import catalog
from webapp.operations.activation import activate

KNOWN_RECORDS = ("ai.aiprovider", "ai.aimodel")
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass
class ImportConflict:
    provider: str
    capability: str
    models: list[str]  # names of the models active in the file for this group
    kept: str

    @property
    def message(self) -> str:
        return messages.multiple_active_models()


@dataclass
class ImportReport:
    providers_created: int = 0
    providers_updated: int = 0
    models_created: int = 0
    models_updated: int = 0
    activations_changed: int = 0
    keys_imported: int = 0
    keys_skipped: int = 0
    conflicts: list[ImportConflict] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return any(
            (
                self.providers_created,
                self.providers_updated,
                self.models_created,
                self.models_updated,
                self.activations_changed,
                self.keys_imported,
            )
        )


class _DryRun(Exception):
    def __init__(self, report: ImportReport):
        self.report = report


def django_fernet(secret_key: str) -> Fernet:
    """The seed's key derivation: base64(SHA256(SECRET_KEY))."""
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest()))


def _bad(record_no: int, text) -> ValidationError:
    return ValidationError(
        _l("Record %(no)d: %(problem)s", no=record_no, problem=text), field="file"
    )


def parse_dump(raw: bytes | str) -> tuple[list[dict], list[dict]]:
    """Validate the file's shape; returns (provider records, model records)."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_FILE_BYTES:
            raise ValidationError(_l("The import file is too large."), field="file")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError(_l("The import file is not UTF-8 text."), field="file") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            _l("The import file is not valid JSON (line %(line)d).", line=exc.lineno),
            field="file",
        ) from exc
    if not isinstance(data, list):
        raise ValidationError(_l("The import file must be a JSON list of records."), field="file")
    providers, models = [], []
    for no, record in enumerate(data, start=1):
        if not isinstance(record, dict) or not isinstance(record.get("fields"), dict):
            raise _bad(no, _l("not a dumpdata record"))
        kind = record.get("model")
        if kind not in KNOWN_RECORDS:
            raise _bad(no, _l("unknown record type %(kind)s", kind=str(kind)[:60]))
        (providers if kind == "ai.aiprovider" else models).append(record | {"_no": no})
    return providers, models


def _timestamp(value) -> datetime:
    if isinstance(value, str):
        with suppress(ValueError):  # not a time: sorts as the oldest
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.min.replace(tzinfo=UTC)


def _caps(record: dict) -> list[str]:
    caps = record["fields"].get("capabilities")
    if isinstance(caps, str):  # some exports keep the JSONField as text
        try:
            caps = json.loads(caps)
        except json.JSONDecodeError:
            caps = None
    if not isinstance(caps, list) or not caps or not all(is_capability(c) for c in caps):
        raise _bad(
            record["_no"],
            _l(
                "capabilities must be a non-empty list of known capabilities, got %(value)s",
                value=str(caps)[:80],
            ),
        )
    return sort_capabilities(caps)


def run_import(
    raw: bytes | str,
    *,
    keep: str = "newest",
    dry_run: bool = False,
    django_secret_key: str | None = None,
    actor="import",
) -> ImportReport:
    if keep not in ("newest", "oldest"):
        raise ValidationError(_l("--keep must be newest or oldest."), field="keep")
    providers, models = parse_dump(raw)
    try:
        return _apply(
            providers,
            models,
            keep=keep,
            dry_run=dry_run,
            django_secret_key=django_secret_key,
            actor=actor,
        )
    except _DryRun as done:
        return done.report


# (provider slug, capability) -> [(updated_at, model name, model id)] of the models
# the file marks active for that group.
ActiveInFile = dict[tuple[str, str], list[tuple[datetime, str, int]]]


@transactional
def _apply(providers, models, *, keep, dry_run, django_secret_key, actor) -> ImportReport:
    report = ImportReport(dry_run=dry_run)
    fernet = django_fernet(django_secret_key) if django_secret_key else None
    slug_by_pk: dict = {}
    for record in providers:
        plaintext = _shared_key(record, fernet, report)
        try:
            provider = _import_provider(record, plaintext, report, actor)
        except ValidationError as exc:
            raise _bad(record["_no"], f"{exc.field}: {exc}") from None
        slug_by_pk[record.get("pk")] = provider.slug
        slug_by_pk[provider.slug] = provider.slug
    active_in_file: ActiveInFile = {}
    for record in models:
        _import_model(record, slug_by_pk, report, active_in_file, actor)
    _settle_groups(active_in_file, keep, report, actor)
    if dry_run:
        raise _DryRun(report)
    return report


def _shared_key(record: dict, fernet: Fernet | None, report: ImportReport) -> str | None:
    """The record's shared key in plain text, None when it has none or it is skipped."""
    secret = record["fields"].get("shared_api_key")
    if not secret:
        return None
    if fernet is None:
        report.keys_skipped += 1
        return None
    try:
        return fernet.decrypt(str(secret).encode()).decode()
    except InvalidToken:
        raise _bad(
            record["_no"], _l("the shared API key cannot be decrypted with the given secret key")
        ) from None


def _provider_data(fields: dict) -> dict:
    slug = fields.get("slug")
    data = {"slug": slug, "name": fields.get("name") or slug}
    if "base_url" in fields or "api_base_url" in fields:
        data["base_url"] = fields.get("base_url", fields.get("api_base_url")) or ""
    if "is_active" in fields or "is_enabled" in fields:
        data["is_enabled"] = bool(fields.get("is_enabled", fields.get("is_active")))
    if "shared_api_enabled" in fields:
        data["shared_api_enabled"] = bool(fields["shared_api_enabled"])
    return data


def _import_provider(record: dict, plaintext: str | None, report: ImportReport, actor) -> Provider:
    data = _provider_data(record["fields"])
    existing = db.session.scalar(select(Provider).where(Provider.slug == data["slug"]))
    if existing is None:
        if plaintext:
            data["shared_api_key"] = plaintext
            report.keys_imported += 1
        provider = catalog.create_provider(data, actor=actor)
        report.providers_created += 1
        return provider
    before = catalog.provider_snapshot(existing)
    if plaintext and _current_shared_key(existing) != plaintext:
        data["shared_api_key"] = plaintext
        report.keys_imported += 1
    provider = catalog.update_provider(existing, data, actor=actor)
    if catalog.provider_snapshot(provider) != before:
        report.providers_updated += 1
    return provider


def _provider_of(record: dict, slug_by_pk: dict) -> Provider:
    ref = record["fields"].get("provider")
    slug = slug_by_pk.get(ref)
    if slug is None and isinstance(ref, str):
        slug = ref
    provider = db.session.scalar(select(Provider).where(Provider.slug == slug)) if slug else None
    if provider is None:
        raise _bad(record["_no"], _l("unknown provider %(value)s", value=str(ref)[:60]))
    return provider


def _without_activity(snapshot: dict) -> dict:
    return {k: v for k, v in snapshot.items() if k != "active_capabilities"}


def _import_model(record, slug_by_pk, report: ImportReport, active_in_file: ActiveInFile, actor):
    fields = record["fields"]
    provider = _provider_of(record, slug_by_pk)
    caps = _caps(record)
    data = {
        "name": fields.get("name"),
        "model_id": fields.get("model_id") or fields.get("name"),
        "display_name": fields.get("display_name") or fields.get("name"),
        "capabilities": caps,
    }
    existing = db.session.scalar(
        select(AIModel)
        .where(AIModel.provider_id == provider.id, AIModel.name == data["name"])
        .options(selectinload(AIModel.capability_rows))
    )
    try:
        if existing is None:
            model, _ = catalog.create_model(provider, data, actor=actor)
            report.models_created += 1
        else:
            before = _without_activity(catalog.model_snapshot(existing))
            model, _ = catalog.update_model(existing, data, actor=actor)
            if _without_activity(catalog.model_snapshot(model)) != before:
                report.models_updated += 1
    except ValidationError as exc:
        raise _bad(record["_no"], f"{exc.field}: {exc}") from None
    if fields.get("is_active"):
        stamp = _timestamp(fields.get("updated_at"))
        for cap in caps:
            active_in_file.setdefault((provider.slug, cap), []).append(
                (stamp, model.name, model.id)
            )


def _settle_groups(active_in_file: ActiveInFile, keep: str, report: ImportReport, actor) -> None:
    """Activate one model per group the file marks active; report each group that
    had several."""
    for (slug, cap), candidates in sorted(active_in_file.items()):
        ordered = sorted(candidates, key=lambda c: (c[0], c[1]))
        winner = ordered[-1] if keep == "newest" else ordered[0]
        if len(candidates) > 1:
            report.conflicts.append(
                ImportConflict(slug, cap, [c[1] for c in ordered], kept=winner[1])
            )
        if activate(winner[2], [cap], actor=actor).changed:
            report.activations_changed += 1


def _current_shared_key(provider: Provider) -> str | None:
    if not provider.shared_api_key_encrypted:
        return None
    try:
        return secrets.decrypt(provider.shared_api_key_encrypted)
    except Exception:
        return None
