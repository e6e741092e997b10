"""Providers: list, create, edit, enable or disable, delete, and the shared key.

Reading needs ``view_models``; every change needs ``manage_providers``. The shared
key is write-only: the pages show its hint (``…a1b2``), never the key.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, HiddenField, PasswordField, StringField

from webapp import secrets
from webapp.access import permission_required
from webapp.ai import calls
from webapp.ai import sync as model_sync
from webapp.ai.sync import SyncEntry
from webapp.capabilities import CAPABILITIES, LABELS
from webapp.errors import DomainError, ValidationError
from webapp.extensions import db
from webapp.models import AIModel, Provider
from webapp.operations import catalog
from webapp.queries.listing import count
from webapp.views.auth import safe_next
from webapp.views.forms import ConfirmForm, flash_done, isolated, show_error
from webapp.views.htmx import fragment, is_htmx

bp = Blueprint("providers", __name__, url_prefix="/providers")

READ = "view_models"
WRITE = "manage_providers"


class ProviderForm(FlaskForm):
    slug = StringField(_l("Slug"), description=_l("Lowercase Latin letters, digits and hyphens."))
    name = StringField(_l("Name"))
    base_url = StringField(_l("Base URL"), description=_l("For example https://api.example.com/v1"))
    is_enabled = BooleanField(_l("Enabled"), default=True)
    shared_api_enabled = BooleanField(_l("The shared key may be used"))

    def data_for_service(self) -> dict:
        return {
            "slug": self.slug.data or "",
            "name": self.name.data or "",
            "base_url": self.base_url.data or "",
            "is_enabled": bool(self.is_enabled.data),
            "shared_api_enabled": bool(self.shared_api_enabled.data),
        }


class NewProviderForm(ProviderForm):
    shared_api_key = PasswordField(
        _l("Shared API key"), description=_l("Optional; it is stored encrypted.")
    )
    # Set when a key was typed into a form that came back with errors: a key is never
    # rendered back, so the next submission must carry it again or say it goes without.
    key_was_typed = HiddenField()


class SharedKeyForm(FlaskForm):
    shared_api_key = PasswordField(
        _l("New shared API key"),
        description=_l("It replaces the current key; only its last characters are shown."),
    )


def _providers_with_counts() -> list[tuple[Provider, int]]:
    counts = (
        select(AIModel.provider_id, func.count(AIModel.id).label("n"))
        .group_by(AIModel.provider_id)
        .subquery()
    )
    stmt = (
        select(Provider, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.provider_id == Provider.id)
        .order_by(Provider.name, Provider.slug)
    )
    return [(p, n) for p, n in db.session.execute(stmt).all()]


@bp.get("")
@permission_required(READ)
def index():
    return render_template(
        "providers/index.html",
        rows=_providers_with_counts(),
        can_manage=current_user.can(WRITE),
        can_add_models=current_user.can("manage_models"),
    )


def _back_to_list() -> str:
    """Where «ویرایش» returns: the list at the provider's row (``next``), else the list."""
    wanted = request.values.get("next") or ""
    return wanted if wanted and safe_next(wanted) == wanted else url_for(".index")


def _key_needs_asking_again(form: NewProviderForm) -> bool:
    """The previous try had a key that the errors threw away and this one has none:
    ask once more rather than create the provider silently without it."""
    if form.key_was_typed.data != "1" or form.shared_api_key.data:
        return False
    form.shared_api_key.errors = [
        _(
            "The key you typed was not kept because the form had errors. Enter it again, "
            "or press «Create» once more to create the provider without a shared key."
        )
    ]
    form.key_was_typed.data = ""
    return True


@bp.route("/new", methods=["GET", "POST"])
@permission_required(WRITE)
def create():
    form = NewProviderForm()
    if form.validate_on_submit() and not _key_needs_asking_again(form):
        data = form.data_for_service()
        key = form.shared_api_key.data
        ticked_for_key = bool(key) and not data["shared_api_enabled"]
        if key:
            data["shared_api_key"] = key
            # A key typed here is meant to be used: storing it unusable helps nobody.
            data["shared_api_enabled"] = True
        try:
            provider = catalog.create_provider(data, actor=current_user)
        except DomainError as error:
            show_error(form, error)
        else:
            flash_done(_("The provider %(name)s was created.", name=isolated(provider.name)))
            if ticked_for_key:
                flash(
                    _(
                        "«The shared key may be used» was ticked because you entered a key; "
                        "untick it on the provider's page if the key should wait."
                    ),
                    "info",
                )
            return redirect(url_for(".index"))
    status = 400 if request.method == "POST" else 200
    if request.method == "POST" and form.shared_api_key.data:
        form.key_was_typed.data = "1"
        form.shared_api_key.errors = [
            *form.shared_api_key.errors,
            _("For your safety the key is not shown again: enter it once more."),
        ]
    return render_template("providers/create.html", form=form), status


def _render_edit(provider: Provider, form: ProviderForm, key_form: SharedKeyForm, status: int):
    return (
        render_template(
            "providers/edit.html",
            provider=provider,
            form=form,
            key_form=key_form,
            back=_back_to_list(),
        ),
        status,
    )


@bp.route("/<int:provider_id>/edit", methods=["GET", "POST"])
@permission_required(WRITE)
def edit(provider_id: int):
    provider = db.get_or_404(Provider, provider_id)
    form = ProviderForm(obj=provider)
    if form.validate_on_submit():
        try:
            change = catalog.change_provider(provider, form.data_for_service(), actor=current_user)
        except DomainError as error:
            show_error(form, error)
        else:
            flash_done(_("The provider %(name)s was saved.", name=isolated(provider.name)))
            for note in change.notes():
                flash(note, "info")
            return redirect(_back_to_list())
    status = 400 if request.method == "POST" else 200
    return _render_edit(provider, form, SharedKeyForm(prefix="key", formdata=None), status)


@bp.post("/<int:provider_id>/shared-key")
@permission_required(WRITE)
def set_shared_key(provider_id: int):
    provider = db.get_or_404(Provider, provider_id)
    key_form = SharedKeyForm(prefix="key")
    try:
        # An empty field here means "I forgot to type it", not "clear": that has its own button.
        key = secrets.clean_key(key_form.shared_api_key.data or "", "shared_api_key")
        catalog.update_provider(provider, {"shared_api_key": key}, actor=current_user)
    except DomainError as error:
        show_error(key_form, error)
        form = ProviderForm(obj=db.get_or_404(Provider, provider_id), formdata=None)
        return _render_edit(provider, form, key_form, 400)
    flash_done(_("The shared key of %(name)s was saved.", name=isolated(provider.name)))
    return redirect(url_for(".edit", provider_id=provider.id))


@bp.route("/<int:provider_id>/shared-key/clear", methods=["GET", "POST"])
@permission_required(WRITE)
def clear_shared_key(provider_id: int):
    """A confirmation page first: the organisation's key cannot be shown again, so
    removing it by a stray click would mean finding it again at the provider."""
    provider = db.get_or_404(Provider, provider_id)
    form = ConfirmForm()
    if not (form.validate_on_submit() and request.form.get("confirm") == "yes"):
        if not provider.has_shared_api_key:
            return redirect(url_for(".edit", provider_id=provider.id))
        return render_template("providers/clear_key.html", provider=provider, form=form)
    catalog.update_provider(provider, {"shared_api_key": None}, actor=current_user)
    flash_done(_("The shared key of %(name)s was removed.", name=isolated(provider.name)))
    return redirect(url_for(".edit", provider_id=provider.id))


@bp.post("/<int:provider_id>/enable", endpoint="enable", defaults={"enabled": True})
@bp.post("/<int:provider_id>/disable", endpoint="disable", defaults={"enabled": False})
@permission_required(WRITE)
def set_enabled(provider_id: int, enabled: bool):
    provider = db.get_or_404(Provider, provider_id)
    catalog.update_provider(provider, {"is_enabled": enabled}, actor=current_user)
    name = isolated(provider.name)
    if enabled:
        message = _("The provider %(name)s was enabled.", name=name)
    else:
        message = _("The provider %(name)s was disabled.", name=name)
    flash_done(message)
    return redirect(url_for(".index"))


@bp.route("/<int:provider_id>/delete", methods=["GET", "POST"])
@permission_required(WRITE)
def delete(provider_id: int):
    provider = db.get_or_404(Provider, provider_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = provider.name
        catalog.delete_provider(provider, actor=current_user)
        flash_done(_("The provider %(name)s was deleted.", name=isolated(name)))
        return redirect(url_for(".index"))
    model_count = count(AIModel, AIModel.provider_id == provider.id)
    return render_template(
        "providers/delete.html", provider=provider, form=form, model_count=model_count
    )


# --- test connection (with the admin's key) ------------------------------------------


@bp.post("/<slug>/test-connection")
@permission_required(WRITE)
def test_connection(slug: str):
    provider = _by_slug_or_404(slug)
    check = calls.check_connection(provider, current_user._get_current_object())
    if is_htmx():
        return fragment(render_template("providers/_connection.html", check=check))
    flash(_connection_summary(check), "success" if check.ok else "error")
    return redirect(url_for(".index"))


def _by_slug_or_404(slug: str) -> Provider:
    return db.first_or_404(select(Provider).where(Provider.slug == slug))


def _connection_summary(check: calls.ConnectionCheck) -> str:
    if not check.ok:
        return check.message
    return _(
        "%(message)s %(count)s models, %(ms)s ms.",
        message=check.message,
        count=check.model_count,
        ms=check.latency_ms,
    )


# --- catalogue sync ---------------------------------------------------------------------


def _rows_from_form(form) -> tuple[list[dict], list[SyncEntry]]:
    """The posted table: what was chosen (for add_models) and every row (to show again)."""
    chosen, rows = [], []
    picked = set(form.getlist("add"))
    try:
        count = min(int(form.get("rows", "0")), 2000)
    except ValueError:
        count = 0
    for i in range(count):
        model_id = form.get(f"model_id-{i}", "").strip()
        if not model_id:
            continue
        caps = [c for c in form.getlist(f"caps-{i}") if c in CAPABILITIES]
        display_name = form.get(f"display_name-{i}", "").strip() or model_id
        rows.append(SyncEntry(model_id, display_name, tuple(caps), "form"))
        if str(i) in picked:
            chosen.append(
                {"model_id": model_id, "display_name": display_name, "capabilities": caps}
            )
    return chosen, rows


@bp.route("/<slug>/sync", methods=["GET", "POST"])
@permission_required(WRITE)
def sync(slug: str):
    provider = _by_slug_or_404(slug)
    admin = current_user._get_current_object()
    rows, picked, error, fetched, status = [], set(), None, False, 200
    if request.method == "POST" and request.form.get("action") == "fetch":
        try:
            rows = model_sync.missing_models(provider, admin)
        except DomainError as exc:
            error = str(exc)
        else:
            fetched = True
    elif request.method == "POST":
        chosen, rows = _rows_from_form(request.form)
        picked = set(request.form.getlist("add"))
        try:
            if not chosen:
                raise ValidationError(_l("Choose at least one model to add."), field="add")
            created = model_sync.add_models(provider, chosen, actor=admin)
        except DomainError as exc:
            error = str(exc)
        else:
            flash(
                ngettext(
                    "%(count)s model was added, inactive.",
                    "%(count)s models were added, inactive.",
                    len(created),
                    count=len(created),
                ),
                "success",
            )
            return redirect(url_for(".sync", slug=provider.slug))
        status = 400
    return (
        render_template(
            "providers/sync.html",
            provider=provider,
            rows=rows,
            picked=picked,
            error=error,
            capabilities=[(c, LABELS[c]) for c in CAPABILITIES],
            fetched=fetched,
        ),
        status,
    )
