"""Every dashboard page, listed from the registered blueprints: the phone, dark-mode and
accessibility tests and the screenshots script visit them all, and a page another area adds
later is covered without editing a list here (a new URL argument fails loudly instead)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, url_for
from sqlalchemy import select

from webapp.extensions import db
from webapp.models.admin import ApiToken
from webapp.models.base import utcnow
from webapp.models.catalog import AIModel, Provider
from webapp.models.policies import Schedule
from webapp.operations import activation, admins, catalog, schedules
from webapp.views import BLUEPRINTS

# GET endpoints of the dashboard's blueprints that are not pages a person opens: htmx
# fragments, downloads and probes.
NOT_PAGES = frozenset(
    {
        "health.healthz",
        "health.readyz",
        "models.group",
        "models.preview",
        "playground.plan",
        "usage.export_csv",
    }
)
SIGNED_OUT = frozenset({"auth.login"})


def busy_demo(boss) -> Provider:
    """What the pages show beyond ``seed-demo``: OpenRouter's shared key, ``boss``'s personal
    key and API token, and two of its models live; returns OpenRouter."""
    provider = catalog.get_provider("openrouter")
    catalog.update_provider(
        provider,
        {"shared_api_key": "sk-or-shared-demo-1234", "shared_api_enabled": True},
        actor=boss,
    )
    admins.save_provider_settings(boss, provider, personal_api_key="sk-or-mine-demo-5678")
    admins.create_token(boss, "content service")
    for model in provider.models[:2]:
        activation.activate(model, actor=boss)
    return provider


def page_ids(provider_id: int, admin_id: int) -> dict[str, object]:
    """A value for each URL argument, from the database as the ``busy`` fixture leaves it."""
    model = db.session.scalar(
        select(AIModel).where(AIModel.provider_id == provider_id).order_by(AIModel.id)
    )
    token_id = db.session.scalar(select(ApiToken.id).order_by(ApiToken.id))
    schedule_id = db.session.scalar(select(Schedule.id).order_by(Schedule.id))
    if schedule_id is None:  # the schedules' cancel page needs a pending switch
        run_at = utcnow() + timedelta(days=1)
        schedule_id = schedules.create(provider_id, model.capabilities[0], model.id, run_at).id
    return {
        "provider_id": provider_id,
        "admin_id": admin_id,
        "model_id": model.id,
        "token_id": token_id,
        "slug": model.provider.slug,
        "capability": model.capabilities[0],
        "schedule_id": schedule_id,
    }


def dashboard_pages(app: Flask, ids: dict[str, object]) -> list[tuple[str, str]]:
    """(name, path) of every page a signed-in superadmin can open, sign-in page excluded,
    plus the not-found page; sorted by path."""
    areas = {bp.name for bp in BLUEPRINTS}
    pages = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            endpoint = rule.endpoint
            if "GET" not in rule.methods or endpoint.partition(".")[0] not in areas:
                continue
            if endpoint in NOT_PAGES or endpoint in SIGNED_OUT:
                continue
            missing = rule.arguments - ids.keys()
            assert not missing, f"{rule.rule}: give tests/e2e/pages.py a value for {missing}"
            values = {arg: ids[arg] for arg in rule.arguments}
            name = endpoint.replace(".", "-").replace("_", "-")
            pages.append((name, url_for(endpoint, **values)))
    pages.append(("error-404", "/no-such-page"))
    return sorted(set(pages), key=lambda page: page[1])
