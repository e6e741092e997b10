"""``flask --app wsgi scheduler``: applies due schedules (docs/CONTRACTS.md §9).

Long-running, it looks every ``INTERVAL_S`` seconds and stops cleanly on SIGTERM or
SIGINT (the schedule in hand commits or rolls back first). ``--once`` applies what is
due and exits, for cron. Several runners may run at once: each schedule is claimed
by exactly one (see ``operations.schedules``).
"""

from __future__ import annotations

import signal
import threading

import click
from flask.cli import with_appcontext

from webapp.extensions import db
from webapp.operations import schedules

INTERVAL_S = 5.0


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
    if once:
        run_once()
        return
    stop = threading.Event()

    def request_stop(signum, frame) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    click.echo(f"scheduler: looking every {interval:g} s; stop with SIGTERM or Ctrl-C")
    try:
        while not stop.is_set():
            run_once()
            stop.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("scheduler: stopped")
