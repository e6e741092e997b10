"""Command line (docs/CONTRACTS.md §7): ``flask --app wsgi <command>`` or ``model-panel <command>``.

Every failure is one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from webapp import messages
from webapp.capabilities import CAPABILITIES
from webapp.errors import DomainError
from webapp.extensions import cache, db
from webapp.models import ROLES, AIModel, ModelCapability, Provider
from webapp.operations.activation import activate, preview
from webapp.operations.admins import create_admin, create_token, get_admin
from webapp.operations.demo import DEMO_ADMINS, DEMO_PASSWORD, seed_demo
from webapp.operations.importer import ImportReport, run_import
from webapp.operations.keys import rotate_all
from webapp.queries.lookup import get_active_model
from webapp.scheduler import scheduler_command
from webapp.usage_cli import usage_group

CLI_ACTOR = "cli"


def clean_errors(fn):
    """A command in the app's context whose domain and database errors become one line
    and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            raise click.ClickException(str(exc)) from None
        except SQLAlchemyError as exc:
            first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise click.ClickException(f"database error: {first}") from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as exc:  # last resort: still one line, never a traceback
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from None

    return with_appcontext(wrapper)


@click.command("create-admin")
@click.argument("username")
@click.option("--password", help="Prompted for (hidden) when omitted.")
@click.option("--role", type=click.Choice(sorted(ROLES)), default="superadmin", show_default=True)
@clean_errors
def create_admin_command(username: str, password: str | None, role: str) -> None:
    """Create an admin who can sign in to the dashboard."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    admin = create_admin(username, password, role, actor=CLI_ACTOR)
    click.echo(f"created admin {admin.username} ({admin.role})")


@click.command("create-token")
@click.argument("username")
@click.option("--name", default="", help="What the token is for.")
@click.option("--expires-days", type=int, default=None, help="Days until the token stops working.")
@clean_errors
def create_token_command(username: str, name: str, expires_days: int | None) -> None:
    """Create an API token for USERNAME; it is printed once, alone on the last line."""
    token, plaintext = create_token(
        get_admin(username), name, expires_days=expires_days, actor=CLI_ACTOR
    )
    click.echo(f"token {token.prefix}… for {username}; it will not be shown again:")
    click.echo(plaintext)


@click.command("seed-demo")
@clean_errors
def seed_demo_command() -> None:
    """Load demo providers, models and admins (idempotent)."""
    created = seed_demo()
    click.echo(
        "demo data: {admins} admins, {providers} providers, {models} models created".format(
            **created
        )
    )
    click.echo("sign in at http://127.0.0.1:5000/login as:")
    for username, role in DEMO_ADMINS:
        click.echo(f"  {username:<9} password {DEMO_PASSWORD}  ({role})")


@click.command("cache-clear")
@clean_errors
def cache_clear_command() -> None:
    """Empty the active-model cache (every worker's, when it is Redis)."""
    try:
        cache.clear()
    except Exception as exc:
        raise click.ClickException(f"cache error: {exc}") from None
    click.echo("cache cleared")


@click.command("rotate-keys")
@clean_errors
def rotate_keys_command() -> None:
    """Re-encrypt every stored API key under the first key of FERNET_KEYS."""
    count = rotate_all(actor=CLI_ACTOR)
    click.echo(f"re-encrypted {count} secrets under the first key")


@click.group("ai")
def ai_group() -> None:
    """Which model is live: look up, activate, check, import."""


@ai_group.command("active")
@click.argument("provider")
@click.argument("capability", type=click.Choice(CAPABILITIES))
@click.option("--json", "as_json", is_flag=True, help="Print the model as JSON.")
@clean_errors
def ai_active(provider: str, capability: str, as_json: bool) -> None:
    """Print the active model of PROVIDER for CAPABILITY (exit 1 when there is none)."""
    model = get_active_model(provider, capability)
    if model is None:
        raise click.ClickException(messages.no_active_model())
    if as_json:
        click.echo(json.dumps(model.to_dict(), ensure_ascii=False))
        return
    click.echo(messages.model_retrieved())
    click.echo(f"{model.name}\t{model.model_id}\t{model.display_name}\t(id {model.id})")


def _find_model(ref: str, provider: str | None) -> AIModel:
    stmt = select(AIModel).join(Provider)
    if ref.isdigit():
        stmt = stmt.where(AIModel.id == int(ref))
    else:
        stmt = stmt.where((AIModel.model_id == ref) | (AIModel.name == ref))
    if provider:
        stmt = stmt.where(Provider.slug == provider)
    found = db.session.scalars(stmt).all()
    if not found:
        raise click.ClickException(f"no model matches {ref!r}")
    if len(found) > 1:
        slugs = ", ".join(sorted(m.provider.slug for m in found))
        raise click.ClickException(
            f"{ref!r} matches models of several providers ({slugs}): add --provider"
        )
    return found[0]


@ai_group.command("activate")
@click.argument("model_ref", metavar="MODEL_ID")
@click.option(
    "--capability",
    "capabilities",
    multiple=True,
    type=click.Choice(CAPABILITIES),
    help="Repeatable; default: all of the model's capabilities.",
)
@click.option("--provider", help="Provider slug, when MODEL_ID is ambiguous.")
@clean_errors
def ai_activate(model_ref: str, capabilities: tuple[str, ...], provider: str | None) -> None:
    """Make MODEL_ID (database id, model id or name) the live model."""
    model = _find_model(model_ref, provider)
    for conflict in preview(model, capabilities or None).conflicts:
        click.echo(conflict.message)
    result = activate(model, capabilities or None, actor=CLI_ACTOR)
    if not result.changed:
        click.echo(f"{model.display_name}: already active for {', '.join(result.requested)}")
        return
    for text in result.messages():
        click.echo(text)


@ai_group.command("check-conflicts")
@clean_errors
def ai_check_conflicts() -> None:
    """List every group with more than one active model; exit 1 if there is one."""
    rows = db.session.execute(
        select(Provider.slug, ModelCapability.capability, func.count())
        .join(Provider, Provider.id == ModelCapability.provider_id)
        .where(ModelCapability.is_active)
        .group_by(Provider.slug, ModelCapability.capability)
        .having(func.count() > 1)
        .order_by(Provider.slug, ModelCapability.capability)
    ).all()
    if not rows:
        click.echo("no conflicts: every provider+capability has at most one active model")
        return
    for slug, cap, count in rows:
        click.echo(f"{slug}\t{cap}\t{count} active\t{messages.multiple_active_models()}")
    sys.exit(1)


@ai_group.command("import")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--keep",
    type=click.Choice(["newest", "oldest"]),
    default="newest",
    show_default=True,
    help="Which active model a conflicting group keeps.",
)
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option(
    "--django-secret-key",
    envvar="DJANGO_SECRET_KEY",
    help="The old system's SECRET_KEY, to carry its encrypted shared keys over.",
)
@clean_errors
def ai_import(file, keep: str, dry_run: bool, django_secret_key: str | None) -> None:
    """Import a Django dumpdata FILE of ai.aiprovider and ai.aimodel records."""
    report = run_import(
        file.read(),
        keep=keep,
        dry_run=dry_run,
        django_secret_key=django_secret_key,
        actor=CLI_ACTOR,
    )
    _print_report(report)


def _print_report(report: ImportReport) -> None:
    for c in report.conflicts:
        click.echo(
            f"{c.message}: {c.provider}/{c.capability}: {', '.join(c.models)} -> kept {c.kept}"
        )
    prefix = "dry run, nothing written: " if report.dry_run else ""
    click.echo(
        f"{prefix}providers {report.providers_created} created, {report.providers_updated} "
        f"updated; models {report.models_created} created, {report.models_updated} updated; "
        f"{report.activations_changed} activations changed; {len(report.conflicts)} conflicts"
    )
    if report.keys_skipped:
        click.echo(
            f"{report.keys_skipped} shared keys skipped: pass --django-secret-key to import them"
        )
    if not report.changed:
        click.echo("nothing changed")


COMMANDS = (
    create_admin_command,
    create_token_command,
    seed_demo_command,
    cache_clear_command,
    rotate_keys_command,
    ai_group,
    scheduler_command,
    usage_group,
)


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)


def _create_app():
    # Imported here: webapp/__init__ imports this module while create_app is being defined.
    from webapp import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def main() -> None:
    """The AI model control panel."""
