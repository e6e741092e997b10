"""Every gateway call leaves one usage row (DESIGN.md §10), written off the call path;
never the prompt, the answer or the key."""

from __future__ import annotations

import time

import openai
import pytest
from sqlalchemy import select

from tests.ai.fake_provider import Reply
from tests.support import SHARED_KEY
from webapp import metering
from webapp.extensions import db
from webapp.models import ApiToken, UsageCall

SECRET_PROMPT = "رمز-محرمانه-پرامپت-۴۲"
HI = [{"role": "user", "content": SECRET_PROMPT}]


def as_text(row: UsageCall) -> str:
    return " ".join(str(getattr(row, c.name)) for c in UsageCall.__table__.columns)


def test_an_ok_call(sdk, role_token, catalogue, usage_rows):
    admin, token = role_token("operator")
    sdk(token).chat.completions.create(model="openrouter", messages=HI)

    (row,) = usage_rows()
    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.admin_id == admin.id))
    assert (row.origin, row.admin_id, row.token_id) == ("gateway", admin.id, token_id)
    assert (row.provider, row.capability, row.model, row.route, row.key_source) == (
        "openrouter",
        "chat",
        "openai/gpt-4o",
        "live",
        "shared",
    )
    assert (row.outcome, row.http_status) == ("ok", 200)
    assert (row.prompt_tokens, row.completion_tokens) == (3, 3)
    assert row.latency_ms >= 0 and row.first_chunk_ms is None
    assert row.at is not None


def test_a_streamed_call(sdk, catalogue, fake_provider, usage_rows):
    fake_provider.script("POST", "/chat/completions", Reply(chunks=["a", "b"], first_delay=0.2))
    list(sdk().chat.completions.create(model="openrouter:code", messages=HI, stream=True))

    (row,) = usage_rows()
    assert (row.capability, row.outcome, row.http_status) == ("code", "ok", 200)
    assert (row.prompt_tokens, row.completion_tokens) == (5, 2)  # from the usage chunk
    assert row.first_chunk_ms is not None and row.latency_ms >= row.first_chunk_ms


def test_embeddings_and_images(sdk, catalogue, usage_rows):
    client = sdk()
    client.embeddings.create(model="openrouter", input=["a", "b"])
    client.images.generate(model="openrouter/openai/dall-e-3", prompt=SECRET_PROMPT)

    embed, image = usage_rows(expect=2)
    assert (embed.capability, embed.model, embed.prompt_tokens) == (
        "embedding",
        "openai/text-embedding-3-small",
        4,
    )
    assert (image.capability, image.route, image.outcome) == ("image", "explicit", "ok")


@pytest.mark.parametrize(
    ("name", "reply", "exception", "outcome", "status"),
    [
        ("openrouter", Reply(500), openai.InternalServerError, "provider_error", 502),
        ("openrouter", Reply(429), openai.RateLimitError, "rate_limited", 429),
        ("openrouter", Reply(404), openai.NotFoundError, "rejected", 404),
        ("openrouter:vision", None, openai.NotFoundError, "no_active_model", 404),
        ("ghost", None, openai.NotFoundError, "model_not_found", 404),
        ("openrouter:image", None, openai.BadRequestError, "invalid_request_error", 400),
    ],
)
def test_error_calls(
    sdk, catalogue, fake_provider, usage_rows, name, reply, exception, outcome, status
):
    if reply is not None:
        fake_provider.always("POST", "/chat/completions", reply)
    with pytest.raises(exception):
        sdk().chat.completions.create(model=name, messages=HI)

    (row,) = usage_rows()
    assert (row.outcome, row.http_status) == (outcome, status)
    # A name that cannot be parsed names no provider yet.
    assert row.provider == (None if status == 400 else name.partition(":")[0])


def test_no_api_access_is_metered_with_the_model(sdk, role_token, catalogue, usage_rows):
    admin, token = role_token("viewer")
    with pytest.raises(openai.PermissionDeniedError):
        sdk(token).chat.completions.create(model="openrouter", messages=HI)
    (row,) = usage_rows()
    assert (row.outcome, row.http_status, row.admin_id) == ("no_api_access", 403, admin.id)


def test_a_bad_token_is_not_metered(sdk, catalogue, usage_rows):
    with pytest.raises(openai.AuthenticationError):
        sdk("mcp_nobody").chat.completions.create(model="openrouter", messages=HI)
    assert usage_rows(expect=0) == []


def test_no_prompt_answer_or_key_is_stored(sdk, catalogue, fake_provider, usage_rows):
    client = sdk()
    client.chat.completions.create(model="openrouter", messages=HI)
    list(client.chat.completions.create(model="openrouter", messages=HI, stream=True))
    fake_provider.always(
        "POST", "/chat/completions", Reply(400, {"error": {"message": f"bad {SHARED_KEY}"}})
    )
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="openrouter", messages=HI)

    rows = usage_rows(expect=3)
    assert len(rows) == 3
    for row in rows:
        text = as_text(row)
        assert SECRET_PROMPT not in text
        assert "سلام از" not in text  # the answer
        assert SHARED_KEY not in text and SHARED_KEY[-4:] not in text


def test_recording_is_written_in_batches_off_the_call_path(app, monkeypatch):
    """A call pays for a dict and an append; the writer thread does the database work.
    (What a call pays is measured in bench/, not asserted here.)"""
    meter = metering.current_meter()
    writes = []
    real_flush = meter.flush
    monkeypatch.setattr(meter, "flush", lambda: writes.append(meter.pending) or real_flush())

    n = 2000
    for _ in range(n):
        metering.record(origin="service", outcome="ok", latency_ms=5, provider="p", model="m")

    deadline = time.monotonic() + 5
    while meter.pending and time.monotonic() < deadline:
        time.sleep(0.05)
    metering.flush_all()  # the writer may still be committing its last batch
    db.session.rollback()
    assert db.session.scalar(select(db.func.count(UsageCall.id))) == n
    assert writes and max(writes) >= metering.BATCH_SIZE  # batches, not one row at a time


def test_what_is_left_is_written_at_shutdown(app):
    meter = metering.current_meter()
    meter._rows.append(metering.row(origin="service", outcome="ok", latency_ms=1))
    metering.flush_all()  # what atexit and gunicorn's worker_exit call
    db.session.rollback()
    assert db.session.scalar(select(db.func.count(UsageCall.id))) == 1


def test_a_failed_write_is_kept_for_the_next_try(app, monkeypatch):
    meter = metering.current_meter()
    meter._rows.append(metering.row(origin="service", outcome="ok", latency_ms=1))
    UsageCall.__table__.drop(db.engine)
    try:
        assert meter.flush() == 0
        assert meter.pending == 1
    finally:
        UsageCall.__table__.create(db.engine)
    assert meter.flush() == 1
