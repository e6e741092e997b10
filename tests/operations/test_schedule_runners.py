"""Several runners against many due schedules: each schedule is applied exactly once;
and the ``scheduler`` command, once and long-running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests import support
from webapp.extensions import db
from webapp.models import AuditEvent, Schedule
from webapp.operations import schedules
from webapp.queries.lookup import get_active_model

ROOT = Path(__file__).resolve().parents[2]
PAST = datetime(2020, 1, 1, tzinfo=UTC)
RUNNERS = 4


def make_due_schedules(total: int) -> dict[int, int]:
    """``total`` due schedules over 20 groups, each group's alternating between two models."""
    make_provider = support.ProviderFactory()
    make_model = support.ModelFactory(make_provider)
    plan = {}
    groups = []
    for _ in range(10):
        provider = make_provider()
        for cap in ("chat", "code"):
            models = [make_model(provider, caps=[cap]) for _ in range(2)]
            groups.append((provider.id, cap, models))
    for i in range(total):
        provider_id, cap, models = groups[i % len(groups)]
        when = PAST.replace(minute=i % 60, second=i // 60)
        row = schedules.create(provider_id, cap, models[(i // len(groups)) % 2].id, when)
        plan[row.id] = provider_id
    db.session.remove()
    return plan


def run_concurrently(app, runners: int) -> list[int]:
    barrier = threading.Barrier(runners)
    applied: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            with app.app_context():
                barrier.wait()
                done = schedules.apply_due()
                db.session.remove()
            with lock:
                applied.extend(item.id for item in done)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return applied


def assert_each_applied_once(plan: dict[int, int], applied: list[int]) -> None:
    assert sorted(applied) == sorted(plan)  # every one, none twice
    statuses = Counter(db.session.scalars(select(Schedule.status)).all())
    assert statuses == {"done": len(plan)}
    events = Counter(
        db.session.scalars(
            select(AuditEvent.target_id).where(AuditEvent.action == "schedule.apply")
        ).all()
    )
    assert set(events) == set(plan) and set(events.values()) == {1}
    assert_applied_in_order()


def assert_applied_in_order() -> None:
    """Within each group, schedules were applied in run_at order (the last one wins)."""
    rows = {
        s.id: ((s.provider_id, s.capability), (s.run_at, s.id))
        for s in db.session.scalars(select(Schedule))
    }
    applied = db.session.scalars(
        select(AuditEvent.target_id)
        .where(AuditEvent.action == "schedule.apply")
        .order_by(AuditEvent.id)
    ).all()
    by_group: dict = {}
    for schedule_id in applied:
        group, when = rows[schedule_id]
        by_group.setdefault(group, []).append(when)
    for whens in by_group.values():
        assert whens == sorted(whens)


def test_four_runners_on_this_database_apply_each_schedule_once(app):
    plan = make_due_schedules(60)
    applied = run_concurrently(app, RUNNERS)
    assert_each_applied_once(plan, applied)


@pytest.mark.postgres
@pytest.mark.slow
def test_four_runners_on_postgresql_apply_200_schedules_once(app_factory):
    with support.app_on_own_database(app_factory, "mcp_sched") as app, app.app_context():
        plan = make_due_schedules(200)
        applied = run_concurrently(app, RUNNERS)
        assert_each_applied_once(plan, applied)
        db.session.remove()


def test_scheduler_once_prints_one_line_per_schedule(app, runner, make_provider, make_model):
    provider = make_provider("openrouter")
    make_model(provider, "gpt-4o", caps=["chat"], active=True)
    claude = make_model(provider, "claude", caps=["chat"])
    first = schedules.create(provider.id, "chat", claude.id, PAST).id
    second = schedules.create(provider.id, "chat", None, PAST.replace(hour=1)).id

    result = runner.invoke(args=["scheduler", "--once"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"schedule {first}: done: مدل فعال شد 1 مدل دیگر غیرفعال شد",
        f"schedule {second}: done: مدل غیرفعال شد",
    ]
    assert get_active_model("openrouter", "chat") is None
    assert runner.invoke(args=["scheduler", "--once"]).output == ""


def test_long_running_scheduler_applies_and_stops_on_sigterm(app, make_provider, make_model):
    provider = make_provider("openrouter")
    make_model(provider, "gpt-4o", caps=["chat"], active=True)
    claude = make_model(provider, "claude", caps=["chat"])
    made = schedules.create(provider.id, "chat", claude.id, PAST).id
    db.session.remove()
    env = os.environ | {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "CACHE_URL": app.config["CACHE_URL"],
        "CACHE_KEY_PREFIX": app.config["CACHE_KEY_PREFIX"],
        "SECRET_KEY": "scheduler-secret",
        "APP_ENV": "development",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "--interval", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while db.session.get(Schedule, made).status == "pending":
            assert time.monotonic() < deadline and process.poll() is None
            db.session.remove()
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, out
    assert f"schedule {made}: done" in out
    assert out.rstrip().endswith("scheduler: stopped")
    assert "Traceback" not in out
