"""Sign in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from webapp.auth import find_admin
from webapp.auth.forms import LoginForm
from webapp.extensions import limiter
from webapp.security import LOGIN_LIMIT_MESSAGE, login_limit
from webapp.services.admins import record_sign_in

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only a local path: never another host, never a scheme-relative //host."""
    if not target:
        return url_for("dashboard.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("dashboard.index")
    if "\\" in target:
        return url_for("dashboard.index")
    return target


_DUMMY_HASH: dict[str, str] = {}


def _spend_hash_time(password: str) -> None:
    from flask import current_app
    from werkzeug.security import check_password_hash, generate_password_hash

    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    if method not in _DUMMY_HASH:
        _DUMMY_HASH[method] = generate_password_hash("not-a-password", method=method)
    check_password_hash(_DUMMY_HASH[method], password)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"], error_message=lambda: str(LOGIN_LIMIT_MESSAGE))
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        username = form.username.data.strip()
        admin = find_admin(username)
        if admin is None:
            _spend_hash_time(form.password.data)  # unknown names take as long as known ones
        ok = admin is not None and admin.check_password(form.password.data) and admin.is_enabled
        program = ok and admin.role == "service"  # programs hold tokens, never a session
        record_sign_in(username, admin, success=ok and not program, ip=request.remote_addr or "")
        if ok and not program:
            login_user(admin, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
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
    logout_user()
    flash(_("You have signed out."), "success")
    return redirect(url_for("auth.login"))
