"""``flask --app wsgi scheduler``: applies due schedules (docs/CONTRACTS.md §9).

Long-running, it looks every ``INTERVAL_S`` seconds and stops cleanly on SIGTERM or
SIGINT (the schedule in hand commits or rolls back first). ``--once`` applies what is
due and exits, for cron. Several runners may run at once: each schedule is claimed
by exactly one (see ``operations.schedules``).

With ``HEALTH_CHECK_INTERVAL`` (seconds, default 0: off) the runner also checks every live
group that often (``operations.health``: the providers page's test connection, with the
shared key) and keeps the results the overview shows; ``--once`` then checks too.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from webapp.extensions import db
from webapp.operations import health, schedules

INTERVAL_S = 5.0
log = logging.getLogger(__name__)


def health_interval() -> float:
    """``HEALTH_CHECK_INTERVAL`` in seconds (config or environment); 0 when off or not a
    positive number."""
    raw = current_app.config.get("HEALTH_CHECK_INTERVAL")
    if raw is None:
        raw = os.environ.get("HEALTH_CHECK_INTERVAL", "")
    try:
        seconds = float(str(raw).strip() or 0)
    except ValueError:
        log.warning("HEALTH_CHECK_INTERVAL=%r is not a number of seconds: checks are off", raw)
        return 0.0
    return seconds if seconds > 0 else 0.0


def check_health() -> int:
    """Check every live group once; one line per group; returns how many were checked."""
    try:
        results = health.check_all()
    except Exception:  # a broken check must not stop the switches
        log.exception("health checks failed")
        db.session.rollback()
        return 0
    for r in results:
        state = "ok" if r["ok"] else f"error ({r['error_kind'] or 'unknown'})"
        click.echo(f"health {r['model']} [{r['capability']}]: {state}, {r['latency_ms']} ms")
    db.session.remove()
    return len(results)


def run_once() -> int:
    """Apply what is due now; print one line per finished schedule; return how many."""
    applied = schedules.apply_due()
    for item in applied:
        click.echo(f"schedule {item.id}: {item.status}: {item.result}")
    db.session.remove()
    return len(applied)


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Apply what is due, then exit (for cron).")
@click.option(
    "--interval",
    type=click.FloatRange(0.1, 60),
    default=INTERVAL_S,
    show_default=True,
    help="Seconds between two looks.",
)
@with_appcontext
def scheduler_command(once: bool, interval: float) -> None:
    """Apply scheduled switches when they are due."""
    every = health_interval()
    if once:
        run_once()
        if every:
            check_health()
        return
    stop = threading.Event()

    def request_stop(signum, frame) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    click.echo(f"scheduler: looking every {interval:g} s; stop with SIGTERM or Ctrl-C")
    if every:
        click.echo(f"scheduler: checking the live models every {every:g} s")
    next_check = time.monotonic()
    try:
        while not stop.is_set():
            run_once()
            if every and time.monotonic() >= next_check:
                check_health()
                next_check = time.monotonic() + every
            stop.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("scheduler: stopped")
