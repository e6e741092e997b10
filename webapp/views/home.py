"""The dashboard's frame: the home page, the language switch, the layout's context."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session

from webapp.access import permission_required
from webapp.capabilities import label
from webapp.i18n import LANGUAGES, remember_language
from webapp.models import role_label
from webapp.queries import usage
from webapp.views import errors
from webapp.views.auth import _safe_next
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
    return render_template("home/overview.html", rows=usage.overview())


@bp.post("/language")
def set_language():
    """Remember the chosen language in the session and a long-lived cookie."""
    lang = request.form.get("lang", "")
    if lang not in LANGUAGES:
        lang = "fa"
    session["lang"] = lang
    target = _safe_next(request.form.get("next") or (request.referrer and _local(request.referrer)))
    response = redirect(target)
    remember_language(response, lang, LANG_COOKIE_AGE)
    return response


def _local(url: str) -> str:
    """The path part of a same-site referrer (anything else falls back to home)."""
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return ""
    return parts.path + (f"?{parts.query}" if parts.query else "")
