"""The playground: send a prompt through the dashboard's own AI calls.

- ``playground.index`` (GET/POST ``/playground``): choose a provider and a capability, see
  which model and which key a call would use, send a prompt, see the answer or the error in
  place (htmx swaps ``#playground-result``; without JavaScript the page reloads).
- ``playground.plan`` (GET ``/playground/plan``): the "which model, which key" fragment.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    render_template,
    request,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from webapp.access import permission_required
from webapp.ai import calls
from webapp.capabilities import LABELS
from webapp.errors import DomainError
from webapp.extensions import db
from webapp.models import Provider
from webapp.queries.lookup import get_active_model
from webapp.views.htmx import fragment, is_htmx

bp = Blueprint("playground", __name__)

PLAYGROUND_CAPABILITIES = ("chat", "image")


def _providers() -> list[Provider]:
    return list(db.session.scalars(select(Provider).order_by(Provider.name, Provider.slug)))


def _choice(providers: list[Provider], source) -> tuple[Provider | None, str]:
    slug = source.get("provider", "")
    capability = source.get("capability", "chat")
    if capability not in PLAYGROUND_CAPABILITIES:
        capability = "chat"
    chosen = next((p for p in providers if p.slug == slug), None)
    if chosen is None:
        chosen = _first_ready(providers, capability)
    return chosen, capability


def _first_ready(providers: list[Provider], capability: str) -> Provider | None:
    """The page opens on a provider that can answer: enabled, with a live model (cached
    lookups); else the first enabled one; else the first."""
    enabled = [p for p in providers if p.is_enabled and p.base_url]
    live = next((p for p in enabled if get_active_model(p.slug, capability) is not None), None)
    return live or (enabled[0] if enabled else providers[0] if providers else None)


def _plan(provider: Provider | None, capability: str):
    if provider is None:
        return None
    return calls.plan_call(provider, capability, current_user._get_current_object())


# --- the playground ---------------------------------------------------------------------


@bp.route("/playground", methods=["GET", "POST"])
@permission_required("view_models")
def index():
    providers = _providers()
    source = request.form if request.method == "POST" else request.args
    provider, capability = _choice(providers, source)
    prompt = request.form.get("prompt", "") if request.method == "POST" else ""
    model_name = request.form.get("model_name", "").strip() or None
    result = error = None
    if request.method == "POST" and request.form.get("action") != "plan":
        asked = request.form.get("provider", "")
        if provider is not None and asked and asked != provider.slug:
            error = _("The provider was not found.")  # never send it to another provider
        else:
            result, error = _run(provider, capability, prompt, model_name)
        if is_htmx():
            return fragment(render_template("playground/_result.html", result=result, error=error))
    return render_template(
        "playground/index.html",
        capability_choices=[(c, LABELS[c]) for c in PLAYGROUND_CAPABILITIES],
        providers=providers,
        provider=provider,
        capability=capability,
        plan=_plan(provider, capability),
        prompt=prompt,
        model_name=model_name,
        result=result,
        error=error,
    )


def _run(provider: Provider | None, capability: str, prompt: str, model_name: str | None):
    """Send the prompt; returns (result, None) or (None, the Persian error)."""
    if provider is None:
        return None, _("No provider has been registered yet.")
    admin = current_user._get_current_object()
    try:
        send = calls.generate_image if capability == "image" else calls.chat
        return send(provider.slug, prompt, admin=admin, model_name=model_name), None
    except DomainError as exc:
        return None, str(exc)


@bp.get("/playground/plan")
@permission_required("view_models")
def plan():
    provider, capability = _choice(_providers(), request.args)
    context = {"plan": _plan(provider, capability), "capability": capability}
    # The send button follows the plan: disabled, with the reason, when nothing can be sent.
    return fragment(
        render_template("playground/_plan.html", **context)
        + render_template("playground/_send.html", oob=True, **context)
    )
