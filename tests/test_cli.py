"""DESIGN.md §7 commands: output, exit codes, one-line errors."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from webapp.capabilities import CAPABILITIES
from webapp.extensions import db
from webapp.models import Admin, AIModel, ApiToken, ModelCapability, Provider
from webapp.operations.admins import admin_for_token
from webapp.queries.lookup import get_active_model


def one_line_error(result) -> str:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_create_admin_and_token(runner):
    result = runner.invoke(
        args=["create-admin", "ops", "--password", "secret-pass-1", "--role", "operator"]
    )
    assert result.exit_code == 0, result.output
    admin = db.session.scalar(select(Admin).where(Admin.username == "ops"))
    assert admin.role == "operator" and admin.check_password("secret-pass-1")

    result = runner.invoke(args=["create-token", "ops", "--name", "ci"])
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("mcp_") and " " not in token
    assert admin_for_token(token).username == "ops"
    stored = db.session.scalar(select(ApiToken))
    assert stored.name == "ci" and token not in (stored.token_hash, stored.prefix)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["create-admin", "x", "--password", "short"], "10"),
        (["create-admin", "bad name", "--password", "long-enough-1"], "لاتین"),
        (["create-token", "nobody"], "کاربری"),
        (["ai", "activate", "no-such-model"], "no-such-model"),
        (["ai", "active", "nowhere", "chat"], "Provider+Capability"),
    ],
)
def test_errors_are_one_line(runner, args, needle):
    line = one_line_error(runner.invoke(args=args))
    assert needle in line


def test_duplicate_admin_is_refused(runner):
    runner.invoke(args=["create-admin", "ops", "--password", "secret-pass-1"])
    line = one_line_error(
        runner.invoke(args=["create-admin", "ops", "--password", "secret-pass-2"])
    )
    assert "نام کاربری" in line or "username" in line
    assert db.session.scalar(select(func.count()).select_from(Admin)) == 1


def test_seed_demo_data_is_complete_and_idempotent(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "login" in result.output and "admin" in result.output and "demo-pass" in result.output
    counts = (
        db.session.scalar(select(func.count()).select_from(Provider)),
        db.session.scalar(select(func.count()).select_from(AIModel)),
    )
    assert counts[0] >= 3 and counts[1] >= 10
    caps = set(db.session.scalars(select(ModelCapability.capability)))
    assert caps == set(CAPABILITIES)
    # Every group has exactly one active model.
    groups = db.session.execute(
        select(
            ModelCapability.provider_id,
            ModelCapability.capability,
            func.sum(func.cast(ModelCapability.is_active, db.Integer)),
        ).group_by(ModelCapability.provider_id, ModelCapability.capability)
    ).all()
    assert all(active == 1 for _, _, active in groups), groups
    multi = db.session.execute(
        select(ModelCapability.model_id)
        .group_by(ModelCapability.model_id)
        .having(func.count() >= 2)
    ).all()
    assert multi
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Provider)
            .where(Provider.shared_api_key_encrypted.is_not(None), Provider.shared_api_enabled)
        )
        >= 1
    )
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and "0 providers" in again.output
    assert db.session.scalar(select(func.count()).select_from(AIModel)) == counts[1]


def test_ai_active_and_activate(runner, make_provider, make_model):
    p = make_provider("openrouter")
    make_model(p, "gpt-4o", caps=["chat"], active=True, model_id="openai/gpt-4o")
    make_model(p, "claude", caps=["chat", "code"], model_id="anthropic/claude")
    make_model(p, "coder", caps=["code"], active=True)

    result = runner.invoke(args=["ai", "active", "openrouter", "chat"])
    assert result.exit_code == 0
    assert "مدل فعال دریافت شد" in result.output and "openai/gpt-4o" in result.output

    result = runner.invoke(args=["ai", "activate", "anthropic/claude"])
    assert result.exit_code == 0, result.output
    assert "مدل فعال شد" in result.output
    assert "2 مدل دیگر غیرفعال شد" in result.output
    assert "فعال کردن این مدل باعث غیرفعال شدن مدل Gpt 4O می‌شود" in result.output
    assert get_active_model("openrouter", "chat").name == "claude"

    result = runner.invoke(args=["ai", "activate", "gpt-4o", "--capability", "chat"])
    assert "1 مدل دیگر غیرفعال شد" in result.output
    assert get_active_model("openrouter", "code").name == "claude"

    result = runner.invoke(args=["ai", "active", "openrouter", "image"])
    assert one_line_error(result).endswith("هیچ مدل فعالی برای این Provider+Capability وجود ندارد")
    result = runner.invoke(args=["ai", "active", "openrouter", "telepathy"])
    assert result.exit_code == 2  # usage error: not a capability


def test_ai_activate_ambiguous_model_id_needs_provider(runner, make_provider, make_model):
    make_model(make_provider("one"), "gpt", caps=["chat"])
    make_model(make_provider("two"), "gpt", caps=["chat"])
    assert "--provider" in one_line_error(runner.invoke(args=["ai", "activate", "gpt"]))
    ok = runner.invoke(args=["ai", "activate", "gpt", "--provider", "two"])
    assert ok.exit_code == 0
    assert get_active_model("two", "chat") is not None and get_active_model("one", "chat") is None


def test_check_conflicts_finds_groups_with_two_active(runner, make_provider, make_model):
    p = make_provider("acme")
    make_model(p, caps=["chat"], active=True)
    b = make_model(p, caps=["chat"])
    clean = runner.invoke(args=["ai", "check-conflicts"])
    assert clean.exit_code == 0 and "no conflicts" in clean.output

    # A database restored from before the rule (index missing) with a broken group:
    db.session.execute(text("DROP INDEX uq_model_capability_one_active"))
    db.session.execute(
        text("UPDATE model_capability SET is_active = :t WHERE model_id = :m"),
        {"t": True, "m": b.id},
    )
    db.session.commit()
    broken = runner.invoke(args=["ai", "check-conflicts"])
    assert broken.exit_code == 1
    assert "acme\tchat\t2 active" in broken.output
    assert "چندین مدل فعال برای یک Provider+Capability مجاز نیست" in broken.output


def test_cache_clear_and_rotate_keys(runner, make_provider):
    make_provider("acme", shared_api_key="sk-abc-123456789", shared_api_enabled=True)
    assert runner.invoke(args=["cache-clear"]).output.strip() == "cache cleared"
    result = runner.invoke(args=["rotate-keys"])
    assert result.exit_code == 0 and "re-encrypted 1 secrets" in result.output
