"""API tokens of the signed-in admin: list, create (the plaintext is shown once, on
the response to the creation, and never again), revoke after a confirmation.

Every admin sees and revokes only their own tokens, superadmins included: a
token acts with its owner's permissions, and disabling an admin (admins page)
already stops every token of theirs.

This is the admin's own page, so it also holds "sign out everywhere": it ends every
sign-in session of the admin, this browser's included (API tokens are untouched).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField

from webapp.access import permission_required
from webapp.errors import DomainError
from webapp.extensions import db
from webapp.models import ApiToken
from webapp.operations import admins, sessions
from webapp.views.forms import ConfirmForm, show_error

bp = Blueprint("tokens", __name__, url_prefix="/tokens")

# Every role has view_models: this is "any signed-in admin".
ANY_ADMIN = "view_models"


class TokenForm(FlaskForm):
    name = StringField(
        _l("Token name"), description=_l("What the token is for, e.g. the content service.")
    )
    # Checked by the service (its Persian message); empty means it never expires.
    expires_days = StringField(
        _l("Expires after (days)"),
        description=_l("Optional: the token stops working after this many days."),
    )


def _own_tokens() -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.admin_id == current_user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def _own_token_or_404(token_id: int) -> ApiToken:
    return db.first_or_404(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.admin_id == current_user.id)
    )


def _page(form: TokenForm, *, new_token: str | None = None, status: int = 200):
    response = render_template(
        "tokens/index.html",
        form=form,
        tokens=_own_tokens(),
        new_token=new_token,
        sign_out_form=ConfirmForm(formdata=None),
    )
    headers = {"Cache-Control": "no-store"} if new_token else {}
    return response, status, headers


@bp.get("")
@permission_required(ANY_ADMIN)
def index():
    return _page(TokenForm(formdata=None))


@bp.post("")
@permission_required(ANY_ADMIN)
def create():
    form = TokenForm()
    try:
        _token, plaintext = admins.create_token(
            current_user._get_current_object(),
            form.name.data or "",
            expires_days=form.expires_days.data or None,
        )
    except DomainError as error:
        show_error(form, error)
        return _page(form, status=400)
    flash(_("The token was created. Copy it now: it will not be shown again."), "success")
    # No redirect: the plaintext exists only in this response.
    return _page(TokenForm(formdata=None), new_token=plaintext, status=201)


@bp.route("/<int:token_id>/revoke", methods=["GET", "POST"])
@permission_required(ANY_ADMIN)
def revoke(token_id: int):
    token = _own_token_or_404(token_id)
    form = ConfirmForm()
    if token.is_revoked:
        flash(_("This token was already revoked."), "error")
        return redirect(url_for(".index"))
    if request.method == "POST" and form.validate_on_submit():
        admins.revoke_token(token, actor=current_user._get_current_object())
        flash(_("The token was revoked; requests using it are refused from now on."), "success")
        return redirect(url_for(".index"))
    return render_template("tokens/revoke.html", token=token, form=form)


@bp.post("/sign-out-everywhere")
@permission_required(ANY_ADMIN)
def sign_out_everywhere():
    """End every session of this admin on every device, this one included."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    sessions.end_all(current_user.id)
    logout_user()
    flash(_("You were signed out on every device. Sign in again to continue."), "success")
    return redirect(url_for("auth.login"))
