"""Pages of the AI services: the playground, test connection and catalogue sync.

- ``playground.index`` (GET/POST ``/playground``): choose a provider and a capability, see
  which model and which key a call would use, send a prompt, see the answer or the error in
  place (htmx swaps ``#playground-result``; without JavaScript the page reloads).
- ``playground.plan`` (GET ``/playground/plan``): the "which model, which key" fragment.
- ``playground.test_connection`` (POST ``/providers/<slug>/test-connection``): the model list
  with the admin's key; answers the ``playground/_connection.html`` fragment to htmx, or
  flashes the result and goes back to the providers page.
- ``playground.sync`` (GET/POST ``/providers/<slug>/sync``): GET only offers to fetch;
  POST ``action=fetch`` fetches the provider's models that are not registered, with guessed,
  editable capabilities; any other POST adds the chosen ones, inactive. Fetching calls the
  provider with a key, so it is a POST (with the CSRF token), never a link.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from webapp.access import permission_required
from webapp.ai import calls
from webapp.ai import sync as model_sync
from webapp.ai.sync import SyncEntry
from webapp.capabilities import CAPABILITIES, LABELS
from webapp.errors import DomainError, NotFound, ValidationError
from webapp.extensions import db
from webapp.models import Provider
from webapp.operations import catalog

bp = Blueprint("playground", __name__)

PLAYGROUND_CAPABILITIES = ("chat", "image")
KEY_SOURCE_LABELS = {
    "personal": _l("Your personal key"),
    "shared": _l("The shared key"),
}


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-Boosted")


def _fragment(template: str, **context):
    response = make_response(render_template(template, **context))
    response.vary.add("HX-Request")
    return response


def _page_or(endpoint: str, fallback: str = "playground.index", **values) -> str:
    """The URL of ``endpoint`` when that page exists (other parts are built alongside)."""
    if endpoint in current_app.view_functions:
        return url_for(endpoint, **values)
    return url_for(fallback)


def _provider_or_404(slug: str) -> Provider:
    try:
        return catalog.get_provider(slug)
    except NotFound as exc:
        abort(404, description=str(exc))


def _providers() -> list[Provider]:
    return list(db.session.scalars(select(Provider).order_by(Provider.name, Provider.slug)))


def _choice(providers: list[Provider], source) -> tuple[Provider | None, str]:
    slug = source.get("provider", "")
    capability = source.get("capability", "chat")
    if capability not in PLAYGROUND_CAPABILITIES:
        capability = "chat"
    chosen = next((p for p in providers if p.slug == slug), None)
    if chosen is None:
        chosen = next((p for p in providers if p.is_enabled), providers[0] if providers else None)
    return chosen, capability


def _plan(provider: Provider | None, capability: str):
    if provider is None:
        return None
    return calls.plan_call(provider, capability, current_user._get_current_object())


def _common_context(**context) -> dict:
    return {
        "capability_choices": [(c, LABELS[c]) for c in PLAYGROUND_CAPABILITIES],
        "key_source_labels": KEY_SOURCE_LABELS,
        **context,
    }


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
        if _is_htmx():
            return _fragment(
                "playground/_result.html",
                **_common_context(result=result, error=error, capability=capability),
            )
    return render_template(
        "playground/index.html",
        **_common_context(
            providers=providers,
            provider=provider,
            capability=capability,
            plan=_plan(provider, capability),
            prompt=prompt,
            model_name=model_name,
            result=result,
            error=error,
        ),
    )


def _run(provider: Provider | None, capability: str, prompt: str, model_name: str | None):
    """Send the prompt; returns (result, None) or (None, the Persian error)."""
    if provider is None:
        return None, _("No provider has been registered yet.")
    admin = current_user._get_current_object()
    try:
        if capability == "image":
            return (
                calls.generate_image(provider.slug, prompt, admin=admin, model_name=model_name),
                None,
            )
        return calls.chat(provider.slug, prompt, admin=admin, model_name=model_name), None
    except DomainError as exc:
        return None, str(exc)


@bp.get("/playground/plan")
@permission_required("view_models")
def plan():
    provider, capability = _choice(_providers(), request.args)
    return _fragment(
        "playground/_plan.html",
        **_common_context(plan=_plan(provider, capability), capability=capability),
    )


# --- test connection --------------------------------------------------------------------


@bp.post("/providers/<slug>/test-connection")
@permission_required("manage_providers")
def test_connection(slug: str):
    provider = _provider_or_404(slug)
    check = calls.check_connection(provider, current_user._get_current_object())
    if _is_htmx():
        return _fragment(
            "playground/_connection.html", **_common_context(check=check, provider=provider)
        )
    flash(_connection_summary(check), "success" if check.ok else "error")
    return redirect(_page_or("providers.index"))


def _connection_summary(check: calls.ConnectionCheck) -> str:
    if not check.ok:
        return check.message
    return _(
        "%(message)s %(count)s models, %(ms)s ms.",
        message=check.message,
        count=check.model_count,
        ms=check.latency_ms,
    )


# --- catalogue sync ---------------------------------------------------------------------


def _rows_from_form(form) -> tuple[list[dict], list[SyncEntry]]:
    """The posted table: what was chosen (for add_models) and every row (to show again)."""
    chosen, rows = [], []
    picked = set(form.getlist("add"))
    try:
        count = min(int(form.get("rows", "0")), 2000)
    except ValueError:
        count = 0
    for i in range(count):
        model_id = form.get(f"model_id-{i}", "").strip()
        if not model_id:
            continue
        caps = [c for c in form.getlist(f"caps-{i}") if c in CAPABILITIES]
        display_name = form.get(f"display_name-{i}", "").strip() or model_id
        rows.append(SyncEntry(model_id, display_name, tuple(caps), "form"))
        if str(i) in picked:
            chosen.append(
                {"model_id": model_id, "display_name": display_name, "capabilities": caps}
            )
    return chosen, rows


@bp.route("/providers/<slug>/sync", methods=["GET", "POST"])
@permission_required("manage_providers")
def sync(slug: str):
    provider = _provider_or_404(slug)
    admin = current_user._get_current_object()
    error, picked, fetched = None, set(), False
    if request.method == "GET":
        rows, status = [], 200
    elif request.form.get("action") == "fetch":
        rows, status = [], 200
        try:
            rows = model_sync.missing_models(provider, admin)
        except DomainError as exc:
            error = str(exc)
        else:
            fetched = True
    else:
        chosen, rows = _rows_from_form(request.form)
        picked = set(request.form.getlist("add"))
        try:
            if not chosen:
                raise ValidationError(_l("Choose at least one model to add."), field="add")
            created = model_sync.add_models(provider, chosen, actor=admin)
        except DomainError as exc:
            error = str(exc)
        else:
            flash(
                ngettext(
                    "%(num)d model was added, inactive.",
                    "%(num)d models were added, inactive.",
                    len(created),
                ),
                "success",
            )
            return redirect(url_for("playground.sync", slug=provider.slug))
        status = 400
    return (
        render_template(
            "playground/sync.html",
            **_common_context(
                provider=provider,
                rows=rows,
                picked=picked,
                error=error,
                capabilities=[(c, LABELS[c]) for c in CAPABILITIES],
                fetched=fetched,
                back_url=_page_or("models.index"),
            ),
        ),
        status,
    )
