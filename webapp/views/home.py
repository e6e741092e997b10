"""The dashboard's frame: the home page, the language switch, the layout's context."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.access import permission_required
from webapp.capabilities import is_capability, label
from webapp.errors import NotFound
from webapp.i18n import LANGUAGES, remember_language
from webapp.models import role_label
from webapp.operations import health
from webapp.queries import usage
from webapp.queries.groups import group_dom_id
from webapp.views import errors
from webapp.views.auth import safe_next
from webapp.views.forms import isolated
from webapp.views.navigation import message_digits, navigation

bp = Blueprint("dashboard", __name__)
errors.register(bp)
bp.add_app_template_filter(message_digits)

LANG_COOKIE_AGE = 365 * 24 * 3600


@bp.app_context_processor
def layout_context() -> dict:
    return {"navigation": navigation, "role_label": role_label, "capability_label": label}


@bp.get("/")
@permission_required("view_models")
def index():
    """The overview: every group's live model, policies and last 24 hours of calls."""
    return render_template(
        "home/overview.html",
        rows=usage.overview(),
        can_check=current_user.can("manage_models"),
    )


@bp.post("/health/<int:provider_id>/<capability>/check")
@permission_required("manage_models")
def check_now(provider_id: int, capability: str):
    """«بررسی اکنون»: the providers page's test connection for one live group, with the
    signed-in admin's key; the result is kept and shown on the overview."""
    if not is_capability(capability):
        abort(404)
    try:
        result = health.check_group(provider_id, capability, actor=current_user)
    except NotFound as exc:
        flash(str(exc.message), "error")
        return redirect(url_for(".index"))
    where = {"model": isolated(result["model"]), "capability": label(capability)}
    if result["ok"]:
        text = _(
            "%(model)s (%(capability)s) answered: the connection works, %(ms)s ms.",
            ms=result["latency_ms"],
            **where,
        )
    else:
        text = _(
            "%(model)s (%(capability)s) failed the check: %(message)s",
            message=result["message"],
            **where,
        )
    flash(text, "success" if result["ok"] else "error")
    return redirect(url_for(".index", _anchor="overview-" + group_dom_id(provider_id, capability)))


@bp.post("/language")
def set_language():
    """Remember the chosen language in the session and a long-lived cookie."""
    lang = request.form.get("lang", "")
    if lang not in LANGUAGES:
        lang = "fa"
    session["lang"] = lang
    target = safe_next(request.form.get("next") or (request.referrer and _local(request.referrer)))
    response = redirect(target)
    remember_language(response, lang, LANG_COOKIE_AGE)
    return response


def _local(url: str) -> str:
    """The path part of a same-site referrer (anything else falls back to home)."""
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return ""
    return parts.path + (f"?{parts.query}" if parts.query else "")
