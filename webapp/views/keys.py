"""My keys: the signed-in admin's personal key per provider, the "use the shared key
instead" choice, and which key a call would use right now (``credentials.explain``).

A personal key saved for another address of the provider is held back; its row says so
and offers to confirm it for the present address (one button) or to replace it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, PasswordField

from webapp.access import permission_required
from webapp.ai import egress
from webapp.errors import DomainError
from webapp.extensions import db
from webapp.models import AdminProviderSettings, Provider
from webapp.operations import admins
from webapp.queries import credentials
from webapp.queries.credentials import Resolution
from webapp.views.forms import flash_done, isolated, show_error

bp = Blueprint("keys", __name__, url_prefix="/keys")


class PersonalKeyForm(FlaskForm):
    personal_api_key = PasswordField(
        _l("Personal API key"),
        description=_l("Leave empty to keep the current key."),
    )
    use_shared_api = BooleanField(_l("Use the shared key instead of my personal key"))


@dataclass
class ProviderKeys:
    provider: Provider
    settings: AdminProviderSettings | None
    resolution: Resolution
    form: PersonalKeyForm

    @property
    def on_hold(self) -> bool:
        return credentials.personal_key_on_hold(self.provider, self.settings)

    @property
    def saved_for(self) -> str:
        """The origin the personal key was saved for (shown when it is held back)."""
        return (self.settings.personal_api_key_origin or "") if self.settings else ""

    @property
    def origin_now(self) -> str:
        return egress.origin(self.provider.base_url)


def _form_for(provider: Provider, settings: AdminProviderSettings | None):
    form = PersonalKeyForm(prefix=f"p{provider.id}", formdata=None)
    form.use_shared_api.data = bool(settings and settings.use_shared_api)
    return form


def _rows(posted: PersonalKeyForm | None = None, posted_id: int | None = None):
    admin = current_user._get_current_object()
    providers = db.session.scalars(select(Provider).order_by(Provider.name, Provider.slug)).all()
    settings = {
        s.provider_id: s
        for s in db.session.scalars(
            select(AdminProviderSettings).where(AdminProviderSettings.admin_id == admin.id)
        )
    }
    rows = []
    for provider in providers:
        mine = settings.get(provider.id)
        form = posted if provider.id == posted_id else _form_for(provider, mine)
        rows.append(ProviderKeys(provider, mine, credentials.explain(provider, admin), form))
    return rows


def _page(rows, status: int = 200):
    return render_template("keys/index.html", rows=rows), status


def _at_row(provider: Provider):
    return redirect(url_for(".index", _anchor=f"provider-{provider.id}"))


def _done(provider: Provider, message: str):
    """``message`` flashed, and back to the provider's row of the page."""
    flash_done(message)
    return _at_row(provider)


@bp.get("")
@permission_required("view_models")
def index():
    return _page(_rows())


@bp.post("/<int:provider_id>")
@permission_required("view_models")
def save(provider_id: int):
    provider = db.get_or_404(Provider, provider_id)
    form = PersonalKeyForm(prefix=f"p{provider.id}")
    changes: dict = {"use_shared_api": bool(form.use_shared_api.data)}
    if form.personal_api_key.data:
        changes["personal_api_key"] = form.personal_api_key.data
    try:
        admins.save_provider_settings(current_user._get_current_object(), provider, **changes)
    except DomainError as error:
        show_error(form, error)
        return _page(_rows(form, provider.id), 400)
    name = isolated(provider.name)
    return _done(provider, _("Your settings for %(name)s were saved.", name=name))


@bp.post("/<int:provider_id>/clear")
@permission_required("view_models")
def clear(provider_id: int):
    provider = db.get_or_404(Provider, provider_id)
    admins.save_provider_settings(
        current_user._get_current_object(), provider, personal_api_key=None
    )
    return _done(
        provider, _("Your personal key for %(name)s was removed.", name=isolated(provider.name))
    )


@bp.post("/<int:provider_id>/confirm")
@permission_required("view_models")
def confirm(provider_id: int):
    """Bind the personal key to the provider's present address (its owner vouches for it)."""
    provider = db.get_or_404(Provider, provider_id)
    try:
        credentials.confirm_personal_key(current_user._get_current_object(), provider)
    except DomainError as error:
        flash(str(error), "error")
        return _at_row(provider)
    return _done(
        provider,
        _(
            "Your personal key for %(name)s is used again at its new address.",
            name=isolated(provider.name),
        ),
    )
