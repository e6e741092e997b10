"""Admins (needs ``manage_admins``): list, create, change role and display name,
enable or disable, reset password. The rules (password strength, known roles, no
self-lockout, never without an admin manager) live in ``services.admins``; these
views only show their answers. A new role or password ends the admin's sessions and
revokes their API tokens, and the message says so."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, SelectField, StringField

from webapp.access import permission_required
from webapp.errors import DomainError
from webapp.extensions import db
from webapp.i18n import local_digits
from webapp.models import ROLES, Admin
from webapp.operations import admins, sessions
from webapp.views.forms import flash_done, isolated, show_error

bp = Blueprint("admins", __name__, url_prefix="/admins")

PERMISSION = "manage_admins"

# The role select says what each role may do.
ROLE_CHOICES = {
    "viewer": _l("Viewer (sees the models)"),
    "operator": _l("Operator (manages models, may use the shared key)"),
    "admin": _l("Administrator (everything but admins)"),
    "superadmin": _l("Super administrator (everything)"),
    "service": _l("Service (a program: calls the gateway with API tokens, cannot sign in)"),
}


class _LocalNumber:
    """A number shown in the page's digits, decided when the text is rendered."""

    def __init__(self, value: int):
        self.value = value

    def __str__(self) -> str:
        return local_digits(self.value)


PASSWORD_RULE = _l(
    "At least %(min)s characters, letters mixed with digits or symbols.",
    min=_LocalNumber(admins.MIN_PASSWORD_LENGTH),
)


def _role_choices() -> list[tuple[str, str]]:
    return [(role, str(ROLE_CHOICES[role])) for role in ROLES]


class NewAdminForm(FlaskForm):
    username = StringField(
        _l("Username"), description=_l("Latin letters, digits and . _ - without spaces.")
    )
    display_name = StringField(_l("Display name"))
    # Unknown roles are refused by the service, with its Persian message.
    role = SelectField(_l("Role"), choices=_role_choices, default="viewer", validate_choice=False)
    password = PasswordField(_l("Password"), description=PASSWORD_RULE)


class EditAdminForm(FlaskForm):
    display_name = StringField(_l("Display name"))
    role = SelectField(_l("Role"), choices=_role_choices, validate_choice=False)


class PasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), description=PASSWORD_RULE)


@bp.get("")
@permission_required(PERMISSION)
def index():
    rows = db.session.scalars(select(Admin).order_by(Admin.username)).all()
    return render_template("admins/index.html", admins=rows)


@bp.route("/new", methods=["GET", "POST"])
@permission_required(PERMISSION)
def create():
    form = NewAdminForm()
    if form.validate_on_submit():
        try:
            admin = admins.create_admin(
                form.username.data or "",
                form.password.data or "",
                form.role.data or "",
                display_name=form.display_name.data or "",
                actor=current_user._get_current_object(),
            )
        except DomainError as error:
            show_error(form, error)
        else:
            flash_done(_("The admin %(name)s was created.", name=isolated(admin.username)))
            return redirect(url_for(".index"))
    status = 400 if request.method == "POST" else 200
    return render_template("admins/create.html", form=form), status


def _render_edit(admin: Admin, *, form=None, password_form=None, status: int = 200):
    if form is None:
        form = EditAdminForm(obj=admin, formdata=None)
    if password_form is None:
        password_form = PasswordForm(prefix="reset", formdata=None)
    return (
        render_template(
            "admins/edit.html",
            admin=admin,
            form=form,
            password_form=password_form,
            is_self=admin.id == current_user.id,
        ),
        status,
    )


@bp.route("/<int:admin_id>/edit", methods=["GET", "POST"])
@permission_required(PERMISSION)
def edit(admin_id: int):
    admin = db.get_or_404(Admin, admin_id)
    if request.method == "GET":
        return _render_edit(admin)
    form = EditAdminForm()
    try:
        change = admins.change_admin(
            admin,
            role=form.role.data or "",
            display_name=form.display_name.data or "",
            actor=current_user._get_current_object(),
        )
    except DomainError as error:
        show_error(form, error)
        return _render_edit(admin, form=form, status=400)
    name = isolated(admin.username)
    if change.role_changed:
        message = _(
            "The admin %(name)s was saved. Their role changed, so they were signed out "
            "everywhere and their API tokens were revoked.",
            name=name,
        )
    else:
        message = _("The admin %(name)s was saved.", name=name)
    flash_done(message)
    return redirect(url_for(".index"))


@bp.post("/<int:admin_id>/enable", endpoint="enable", defaults={"enabled": True})
@bp.post("/<int:admin_id>/disable", endpoint="disable", defaults={"enabled": False})
@permission_required(PERMISSION)
def set_enabled(admin_id: int, enabled: bool):
    admin = db.get_or_404(Admin, admin_id)
    try:
        admins.update_admin(admin, is_enabled=enabled, actor=current_user._get_current_object())
    except DomainError as error:
        flash(str(error.message), "error")
        return _render_edit(admin, status=400)
    name = isolated(admin.username)
    if enabled:
        message = _("The admin %(name)s was enabled.", name=name)
    else:
        message = _("The admin %(name)s was disabled and signed out everywhere.", name=name)
    flash_done(message)
    return redirect(url_for(".index"))


@bp.post("/<int:admin_id>/password")
@permission_required(PERMISSION)
def reset_password(admin_id: int):
    admin = db.get_or_404(Admin, admin_id)
    password_form = PasswordForm(prefix="reset")
    try:
        admins.update_admin(
            admin,
            password=password_form.password.data or "",
            actor=current_user._get_current_object(),
        )
    except DomainError as error:
        show_error(password_form, error)
        return _render_edit(admin, password_form=password_form, status=400)
    if admin.id == current_user.id:
        # The new password ends every session of this admin; this one starts afresh.
        sessions.start(admin)
        login_user(admin)
    flash_done(
        _(
            "The password of %(name)s was changed; their other sessions were ended "
            "and their API tokens were revoked.",
            name=isolated(admin.username),
        )
    )
    return redirect(url_for(".edit", admin_id=admin.id))
