"""The model form's guard for the live model: saving a model without a capability for
which it is the live model leaves that group (provider + capability) with no live
model, and calls for that capability then fail. Like an activation, the change is
previewed first: a page names each group that would be left empty and asks to confirm;
the confirmation posts the same form again with a mark of what was confirmed.

``views/models.py`` calls :func:`confirm_dropped_live` once the form is valid."""

from __future__ import annotations

from flask import render_template, request
from werkzeug.wrappers import Response

from webapp.capabilities import label, sort_capabilities
from webapp.models import AIModel

CONFIRM_FIELD = "confirm_drop"


def dropped_live(model: AIModel, capabilities) -> list[str]:
    """The capabilities ``model`` is live for and would lose with ``capabilities``."""
    kept = set(capabilities)
    return sort_capabilities(c for c in model.active_capabilities if c not in kept)


def _mark(model: AIModel, dropped: list[str]) -> str:
    return f"{model.id}|{','.join(dropped)}"


def confirm_dropped_live(model: AIModel, data: dict) -> tuple[str, int] | Response | None:
    """The confirmation page when saving ``data`` would leave a group without its live
    model and the admin has not confirmed exactly that; None when there is nothing to
    confirm (the caller saves)."""
    dropped = dropped_live(model, data.get("capabilities") or [])
    if not dropped or request.form.get(CONFIRM_FIELD) == _mark(model, dropped):
        return None
    carried = [
        (name, value)
        for name, value in request.form.items(multi=True)
        if name not in ("csrf_token", CONFIRM_FIELD)
    ]
    return render_template(
        "model_form_guard/confirm.html",
        model=model,
        provider=model.provider,
        groups=[(c, label(c)) for c in dropped],
        carried=carried,
        mark=_mark(model, dropped),
        field=CONFIRM_FIELD,
        action=request.full_path.rstrip("?"),
    ), 200
