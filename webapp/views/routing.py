"""A group's traffic policies on the dashboard (docs/CONTRACTS.md §9): schedule a switch,
edit the fallbacks and the split. URLs (docs/OPERATIONS.md, "Traffic policies"):

- ``routing.group`` (GET ``/routing/<provider id>/<capability>``): the group's policies and
  their two forms; a full page, or, for htmx (the models page's «زمان‌بندی تغییر» and
  «مسیریابی» buttons), the same forms in a ``<dialog open>`` swapped into ``#dialog-area``;
- ``routing.schedule`` (POST ``…/schedule``): a switch at a Jalali date and a time in
  ``APP_TIMEZONE``, or once the live model's calls of the day reach a number;
- ``routing.update`` (POST ``…``): the ordered fallbacks and the split's percents.

Both posts take two steps, as the radio switch does: a valid form first answers with what
will happen (the model that will lose its place, the live model's share) and «تأیید»;
the confirmed post goes through ``operations.schedules`` / ``operations.routing`` (lock,
audit) and answers with the group's policy block out of band and the flash. Bad input
answers 400 with the Persian reasons beside the fields and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from webapp import messages
from webapp.access import may, permission_required
from webapp.capabilities import is_capability
from webapp.dates import format_datetime, local_instant_utc
from webapp.errors import DomainError
from webapp.extensions import db
from webapp.i18n import ASCII_DIGITS, current_lang, local_digits
from webapp.models import AIModel, ModelCapability, Provider, utcnow
from webapp.operations import routing, schedules
from webapp.queries import policies
from webapp.queries.groups import Group, groups_for
from webapp.queries.usage import app_timezone
from webapp.views.htmx import flash_oob, fragment, is_htmx, render_block
from webapp.views.models import next_url

bp = Blueprint("routing", __name__)

TEMPLATE = "routing/group.html"
AT, AFTER_CALLS = "at", "calls"
FALLBACK_SLOTS = 3  # empty slots shown below the current fallbacks (up to the maximum)


def example_day() -> str:
    return local_digits("1405/09/15")


def example_time() -> str:
    return local_digits("09:30")


@bp.app_template_filter("percent")
def percent(value: int) -> str:
    """``10%`` in English, «۱۰٪» in Persian."""
    return local_digits(value) + ("٪" if current_lang() == "fa" else "%")


@bp.app_template_global("may_edit_policies")
def may_edit_policies() -> bool:
    """For templates/models/_policies.html, which may be rendered from an imported macro
    (no request context variables there, only globals)."""
    return may("manage_models")


@bp.app_template_global("group_policies")
def group_policies(group: Group) -> policies.GroupPolicies:
    """The models page's policy block asks this for each group (templates/models/_policies.html)."""
    return policies.for_group(group.provider.id, group.capability)


# --- reading the forms ---------------------------------------------------------------------


def _whole_number(text: str | None) -> int | None:
    """A whole number typed with Persian or ASCII digits; None for anything else."""
    text = (text or "").strip().translate(ASCII_DIGITS)
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return None
    return int(text)


def _group_or_404(provider_id: int, capability: str) -> Group:
    if not is_capability(capability):
        abort(404, description=_("Unknown capability: %(value)s", value=capability[:40]))
    found = groups_for({(provider_id, capability)})
    if not found:
        abort(404, description=_("This provider has no model with this capability."))
    return found[0]


def _fallback_candidates(group: Group) -> list[tuple[AIModel, Provider]]:
    """Every model, of any provider, with the group's capability, but the live one."""
    rows = db.session.execute(
        select(AIModel, Provider)
        .join(ModelCapability, ModelCapability.model_id == AIModel.id)
        .join(Provider, Provider.id == AIModel.provider_id)
        .where(ModelCapability.capability == group.capability)
        .order_by(Provider.id != group.provider.id, Provider.name, AIModel.display_name)
    ).all()
    live = group.active.id if group.active else None
    return [(model, provider) for model, provider in rows if model.id != live]


class ScheduleInput:
    """The «زمان‌بندی تغییر» form, read and checked; ``errors`` by field."""

    def __init__(self, form, group: Group):
        self.raw = {k: (form.get(k) or "").strip()[:40] for k in ("model", "when", "date", "time")}
        self.raw["after_calls"] = (form.get("after_calls") or "").strip()[:12]
        self.errors: dict[str, str] = {}
        self.model: AIModel | None = None
        self.clears = False
        self.run_at: datetime | None = None
        self.after_calls: int | None = None
        self._read_model(group)
        if self.raw["when"] == AFTER_CALLS:
            self.after_calls = _whole_number(self.raw["after_calls"])
            if self.after_calls is None or self.after_calls < 1:
                self.errors["after_calls"] = _("Give a whole number of calls above zero.")
            self.run_at = utcnow()
        else:
            self.raw["when"] = AT
            self._read_time()

    def _read_model(self, group: Group) -> None:
        chosen = self.raw["model"]
        if chosen == "none":
            self.clears = True
            return
        model_id = _whole_number(chosen)
        self.model = next((m for m in group.models if m.id == model_id), None)
        if self.model is None:
            self.errors["model"] = _("Choose one of this group's models, or «None of them».")

    def _read_time(self) -> None:
        if not self.raw["date"]:
            self.errors["date"] = _("Give the day, for example %(day)s.", day=example_day())
        if not self.raw["time"]:
            self.errors["time"] = _(
                "Give the time of day, for example %(time)s.", time=example_time()
            )
        if self.errors.keys() & {"date", "time"}:
            return
        try:
            self.run_at = local_instant_utc(self.raw["date"], "00:00", app_timezone())
        except ValueError:
            self.errors["date"] = _(
                "This is not a real day; write it as %(day)s.", day=example_day()
            )
            return
        try:
            self.run_at = local_instant_utc(self.raw["date"], self.raw["time"], app_timezone())
        except ValueError:
            self.errors["time"] = _(
                "This is not a time of day; write it as %(time)s (24 hours).", time=example_time()
            )
            return
        if self.run_at <= utcnow():
            self.errors["time"] = _("This moment has passed; give a time in the future.")

    def fingerprint(self) -> str:
        """What the admin confirms: the same target and the same moment or threshold."""
        when = f"calls:{self.after_calls}" if self.after_calls else self.run_at.isoformat()
        return f"{'none' if self.clears else self.model.id}|{when}"


class RoutingInput:
    """The routing form: ``fallback_1`` … in order, ``percent_<model id>`` per arm."""

    def __init__(self, form, group: Group, candidates):
        self.errors: dict[str, str] = {}
        self.raw = {
            k: v.strip()[:12] for k, v in form.items() if k.startswith(("fallback_", "percent_"))
        }
        known = {model.id for model, _provider in candidates}
        self.fallbacks: list[int] = []
        slots = sorted(
            (k for k in self.raw if k.startswith("fallback_")),
            key=lambda k: _whole_number(k.removeprefix("fallback_")) or 0,
        )
        for key in slots:
            if not self.raw[key]:
                continue
            model_id = _whole_number(self.raw[key])
            if model_id not in known:
                self.errors[key] = _("Choose a model with this capability.")
            else:
                self.fallbacks.append(model_id)
        self.split: list[routing.Arm] = []
        live = group.active.id if group.active else None
        for model in group.models:
            text = self.raw.get(f"percent_{model.id}", "")
            if model.id == live or text in ("", "0", "۰"):
                continue
            percent = _whole_number(text)
            if percent is None or not routing.MIN_PERCENT <= percent <= routing.MAX_PERCENT:
                self.errors[f"percent_{model.id}"] = _(
                    "Give a whole percent from %(low)s to %(high)s, or 0 for none.",
                    low=local_digits(routing.MIN_PERCENT),
                    high=local_digits(routing.MAX_PERCENT),
                )
            else:
                self.split.append(routing.Arm(model.id, percent))

    def fingerprint(self) -> str:
        arms = ",".join(f"{a.model_id}:{a.percent}" for a in self.split)
        return f"{','.join(map(str, self.fallbacks))}|{arms}"


# --- rendering -----------------------------------------------------------------------------


def _context(group: Group, **extra) -> dict:
    candidates = _fallback_candidates(group)
    current = policies.for_group(group.provider.id, group.capability)
    slots = min(routing.MAX_FALLBACKS, len(current.fallbacks) + FALLBACK_SLOTS)
    return {
        "group": group,
        "policies": current,
        "candidates": candidates,
        "fallback_slots": slots,
        "can_manage": current_user.can("manage_models"),
        "next_url": next_url(),
        "zone": app_timezone().key,
        "schedule_values": {"when": AT},
        "routing_values": None,
        "schedule_errors": {},
        "routing_errors": {},
        "confirm": None,
    } | extra


def _answer(group: Group, status: int = 200, errors: list[str] = (), **extra):
    """The forms again (errors, or the confirmation step): the dialog for htmx, else the page."""
    context = _context(group, **extra)
    if is_htmx():
        body = render_block(TEMPLATE, "dialog", **context)
        return fragment(body + flash_oob(errors=errors), status)
    for text in errors:
        flash(text, "error")
    return render_template(TEMPLATE, **context), status


def _done(group: Group, said: list[str]):
    """The change is made: the group's block (out of band) and the flash, or a redirect."""
    if not is_htmx():
        for text in said:
            flash(text, "success")
        return redirect(next_url())
    policies.forget()
    fresh = groups_for({(group.provider.id, group.capability)})[0]
    # The dialog's own swap (the main content, empty) closes it.
    body = render_template("models/_policies.html", group=fresh, policies_oob=True)
    return fragment(body + flash_oob(success=said))


NOT_SAVED = _l("Nothing was changed: please correct the marked fields.")


# --- the routes ----------------------------------------------------------------------------


@bp.get("/routing/<int:provider_id>/<capability>")
@permission_required("view_models")
def group(provider_id: int, capability: str):
    found = _group_or_404(provider_id, capability)
    context = _context(found)
    if is_htmx():
        return fragment(render_block(TEMPLATE, "dialog", **context))
    return render_template(TEMPLATE, **context)


@bp.post("/routing/<int:provider_id>/<capability>/schedule")
@permission_required("manage_models")
def schedule(provider_id: int, capability: str):
    found = _group_or_404(provider_id, capability)
    entered = ScheduleInput(request.form, found)
    values = entered.raw
    if entered.errors:
        return _answer(
            found, 400, [str(NOT_SAVED)], schedule_values=values, schedule_errors=entered.errors
        )
    if request.form.get("confirmed") != entered.fingerprint():
        return _answer(
            found, schedule_values=values, confirm=_schedule_confirmation(found, entered)
        )
    try:
        schedules.create(
            found.provider.id,
            found.capability,
            None if entered.clears else entered.model.id,
            entered.run_at,
            after_calls=entered.after_calls,
            actor=current_user,
        )
    except DomainError as exc:
        return _answer(found, exc.status, [str(exc)], schedule_values=values)
    return _done(found, [_("Switch scheduled: %(plan)s", plan=_schedule_plan(found, entered))])


def _when(entered: ScheduleInput) -> str:
    if entered.after_calls is not None:
        return _(
            "once the live model has answered %(count)s calls today",
            count=local_digits(entered.after_calls),
        )
    return _(
        "on %(when)s (%(zone)s time)",
        when=format_datetime(entered.run_at),
        zone=app_timezone().key,
    )


def _schedule_plan(group: Group, entered: ScheduleInput) -> str:
    if entered.clears:
        return _(
            "%(capability)s of %(provider)s will have no live model %(when)s.",
            capability=group.label,
            provider=group.provider.name,
            when=_when(entered),
        )
    return _(
        "«%(model)s» becomes live for %(capability)s of %(provider)s %(when)s.",
        model=entered.model.display_name,
        capability=group.label,
        provider=group.provider.name,
        when=_when(entered),
    )


def _schedule_confirmation(group: Group, entered: ScheduleInput) -> dict:
    warnings = []
    live = group.active
    if entered.clears and live is not None:
        warnings.append(
            _(
                "«%(model)s» will stop serving; calls will fail until another model is live.",
                model=live.display_name,
            )
        )
    elif live is not None and entered.model is not None and live.id != entered.model.id:
        warnings.append(messages.conflicting_models(live.display_name))
    return {
        "kind": "schedule",
        "summary": _schedule_plan(group, entered),
        "warnings": warnings,
        "fingerprint": entered.fingerprint(),
    }


@bp.post("/routing/<int:provider_id>/<capability>")
@permission_required("manage_models")
def update(provider_id: int, capability: str):
    found = _group_or_404(provider_id, capability)
    entered = RoutingInput(request.form, found, _fallback_candidates(found))
    if entered.errors:
        return _answer(
            found,
            400,
            [str(NOT_SAVED)],
            routing_values=entered.raw,
            routing_errors=entered.errors,
        )
    if request.form.get("confirmed") != entered.fingerprint():
        return _answer(
            found,
            routing_values=entered.raw,
            confirm=_routing_confirmation(found, entered),
        )
    try:
        routing.set_routing(
            found.provider.id,
            found.capability,
            entered.fallbacks,
            entered.split,
            actor=current_user,
        )
    except DomainError as exc:
        reasons = [str(t) for texts in (exc.errors or {}).values() for t in texts]
        return _answer(found, exc.status, reasons or [str(exc)], routing_values=entered.raw)
    said = _(
        "The routing of %(capability)s of %(provider)s was saved.",
        capability=found.label,
        provider=found.provider.name,
    )
    return _done(found, [said])


def _routing_confirmation(group: Group, entered: RoutingInput) -> dict:
    names = {m.id: m for m, _p in _fallback_candidates(group)} | {m.id: m for m in group.models}
    lines = []
    if entered.fallbacks:
        lines.append(
            _(
                "Fallbacks, in order: %(names)s.",
                names=_(", ").join(names[i].display_name for i in entered.fallbacks),
            )
        )
    else:
        lines.append(_("No fallbacks: when the live model fails, the call fails."))
    for arm in entered.split:
        lines.append(
            _(
                "Split: %(percent)s of the users go to «%(model)s».",
                percent=percent(arm.percent),
                model=names[arm.model_id].display_name,
            )
        )
    share = 100 - sum(a.percent for a in entered.split)
    lines.append(_("The live model keeps %(percent)s of the users.", percent=percent(share)))
    return {
        "kind": "routing",
        "summary": "",
        "warnings": lines,
        "fingerprint": entered.fingerprint(),
    }
