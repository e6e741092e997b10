"""The dashboard: one module per URL area, each with its blueprint and its templates/<area>/."""

from __future__ import annotations

from webapp.dates import init_app as dates_init
from webapp.views import (
    admins,
    auth,
    health,
    history,
    home,
    keys,
    models,
    playground,
    providers,
    routing,
    schedules,
    tokens,
    usage,
)

BLUEPRINTS = tuple(
    m.bp
    for m in (
        health,
        auth,
        home,
        models,
        playground,
        providers,
        keys,
        tokens,
        admins,
        history,
        usage,
        routing,
        schedules,
    )
)

__all__ = ["BLUEPRINTS", "dates_init"]
