"""The layout's navigation: only pages that exist and that the admin may open."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

# (endpoint, label); the permission comes from the view's @permission_required.
NAVIGATION = (
    ("dashboard.index", _l("Overview")),
    ("models.index", _l("Models")),
    ("providers.index", _l("Providers")),
    ("keys.index", _l("My keys")),
    ("tokens.index", _l("API tokens")),
    ("playground.index", _l("Playground")),
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
