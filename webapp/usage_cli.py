"""``flask --app wsgi usage …``: housekeeping of the metered calls (docs/CONTRACTS.md §10)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from webapp import rollup


@click.group("usage")
def usage_group() -> None:
    """Metered AI calls."""


@usage_group.command("prune")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="Keep this many days of raw calls (default: USAGE_RAW_RETENTION_DAYS, 30).",
)
@with_appcontext
def prune_command(days: int | None) -> None:
    """Delete raw usage rows older than the retention; the hourly rollups are kept."""
    if days is None:
        days = int(current_app.config.get("USAGE_RAW_RETENTION_DAYS") or 30)
    deleted = rollup.prune(days)
    click.echo(f"deleted {deleted} usage rows older than {days} days")
