"""Sign in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from webapp.extensions import limiter
from webapp.operations import sessions
from webapp.operations.admins import find_admin, record_sign_in
from webapp.security import (
    LOGIN_LIMIT_MESSAGE,
    is_failed_sign_in,
    login_limit,
    login_user_limit,
    login_username_key,
)

bp = Blueprint("auth", __name__)

MAX_NEXT_LENGTH = 2000


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Remember me"))


_CONTROL = ("\r", "\n", "\0", "\\")


def safe_next(target: str | None) -> str:
    """Only a local path: never another host, never a scheme-relative //host, never a
    header-splitting control character, never an endless string."""
    home = url_for("dashboard.index")
    if not target or len(target) > MAX_NEXT_LENGTH or any(c in target for c in _CONTROL):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return home
    return target


_DUMMY_HASH: dict[str, str] = {}


def _spend_hash_time(password: str) -> None:
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    if method not in _DUMMY_HASH:
        _DUMMY_HASH[method] = generate_password_hash("not-a-password", method=method)
    check_password_hash(_DUMMY_HASH[method], password)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"], error_message=lambda: str(LOGIN_LIMIT_MESSAGE))
@limiter.limit(
    login_user_limit,
    key_func=login_username_key,
    methods=["POST"],
    deduct_when=is_failed_sign_in,  # an admin's own good sign-ins never lock them out
    error_message=lambda: str(LOGIN_LIMIT_MESSAGE),
)
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        username = form.username.data.strip()
        password = form.password.data
        # A NUL can never be part of a stored name or password, and PostgreSQL refuses
        # it in a query: such an attempt is simply a wrong one.
        garbled = "\0" in username or "\0" in password
        admin = None if garbled else find_admin(username)
        if admin is None:
            _spend_hash_time(password)  # unknown names take as long as known ones
        ok = admin is not None and admin.check_password(password) and admin.is_enabled
        program = ok and admin.role == "service"  # programs hold tokens, never a session
        record_sign_in(
            username.replace("\0", "\ufffd"),
            admin,
            success=ok and not program,
            ip=request.remote_addr or "",
        )
        if ok and not program:
            remember = bool(form.remember.data)
            sessions.start(admin, remember=remember)
            login_user(admin, remember=remember)
            # A new CSRF secret for the signed-in session: a token seen before sign-in
            # (e.g. planted on the login page) is worth nothing afterwards.
            session.pop("csrf_token", None)
            g.pop("csrf_token", None)
            return redirect(safe_next(request.args.get("next")))
        if program:
            flash(
                _("A service account cannot sign in; it calls the gateway with an API token."),
                "error",
            )
            status = 403
        else:
            # One message for every failure: it must not tell which part was wrong.
            flash(_("The username or password is not correct."), "error")
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():
    sessions.end(session.get("_user_id"))
    logout_user()
    flash(_("You have signed out."), "success")
    return redirect(url_for("auth.login"))
