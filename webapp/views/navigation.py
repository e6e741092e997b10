"""The layout's navigation (only pages that exist and that the admin may open) and its
messages' numbers in the page's digits."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape

from webapp.i18n import current_lang, local_digits

# (endpoint, label); the permission comes from the view's @permission_required.
NAVIGATION = (
    ("dashboard.index", _l("Overview")),
    ("models.index", _l("Models")),
    ("providers.index", _l("Providers")),
    ("keys.index", _l("My keys")),
    ("tokens.index", _l("API tokens")),
    ("playground.index", _l("Playground")),
    ("schedules.index", _l("Schedules")),
    ("history.index", _l("History")),
    ("usage.index", _l("Usage")),
    ("admins.index", _l("Admins")),
)


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    current: bool


def _allowed(endpoint: str) -> bool:
    view = current_app.view_functions.get(endpoint)
    if view is None:
        return False
    permission = getattr(view, "required_permission", None)
    return permission is None or current_user.can(permission)


def navigation() -> list[NavItem]:
    if not current_user.is_authenticated:
        return []
    here = request.endpoint or ""
    here_blueprint = here.partition(".")[0]
    return [
        NavItem(endpoint, str(label), here_blueprint == endpoint.partition(".")[0])
        for endpoint, label in NAVIGATION
        if _allowed(endpoint)
    ]


# A number standing on its own; names and addresses (gpt-4o, 3.5, :8080) and anything
# isolated in <bdi> keep their Latin digits.
_NUMBER = re.compile(r"(<bdi\b.*?</bdi>)|(?<![\w.:/-])(\d+)(?![\w.:/-])", re.S)


def message_digits(message: object) -> Markup:
    """A flash message with its counts in Persian digits on a Persian page (the JSON API
    and the CLI keep ASCII digits: they never render this)."""
    text = str(message if isinstance(message, Markup) else escape(message))
    if current_lang() != "fa":
        return Markup(text)
    return Markup(_NUMBER.sub(lambda m: m.group(1) or local_digits(m.group(2)), text))
