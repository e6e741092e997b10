"""Scheduled switches of a group (docs/CONTRACTS.md §9).

A due schedule is applied through ``activation`` exactly like a manual switch (lock,
deactivations, audit, cache invalidation), with its author as the actor, named
together with the schedule in the audit trail. Exactly once, with any number of
runners: each schedule is claimed in its own write transaction, on PostgreSQL with
``SELECT … FOR UPDATE SKIP LOCKED`` (a runner passes over rows another one holds), on
SQLite under ``BEGIN IMMEDIATE`` (runners take turns); the claim, the switch and the
new status commit together, so a crash leaves the schedule pending, never half done.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select

from webapp import messages
from webapp.capabilities import is_capability
from webapp.dates import TEHRAN, day_start_utc
from webapp.db import transactional
from webapp.errors import Conflict, DomainError, ValidationError
from webapp.extensions import db
from webapp.models import Admin, AIModel, ModelCapability, Provider, Schedule, UsageCall, utcnow
from webapp.models.policies import SCHEDULE_STATUSES
from webapp.operations import activation, audit
from webapp.operations.locks import one_or_404
from webapp.queries.listing import count
from webapp.queries.lookup import get_active_model

PENDING, DONE, FAILED, CANCELLED = SCHEDULE_STATUSES
NOT_FOUND = _l("The schedule was not found.")
# While another runner holds an earlier schedule of a group: look again this often, and
# give up (until the next look) after this many empty rounds.
IDLE_PAUSE_S = 0.05
MAX_IDLE_ROUNDS = 40


@dataclass(frozen=True)
class Applied:
    """One schedule the runner finished, for its one-line report."""

    id: int
    status: str
    result: str


@dataclass(frozen=True)
class ScheduledActor:
    """The author as the audit trail shows them: their id, and a name that says the
    change came from a schedule."""

    id: int | None
    username: str


def get_schedule(schedule_id: int) -> Schedule:
    return one_or_404(select(Schedule).where(Schedule.id == schedule_id), NOT_FOUND, "schedule")


@transactional
def create(
    provider_id: int,
    capability: str,
    model_id: int | None,
    run_at: datetime,
    *,
    after_calls: int | None = None,
    actor=None,
) -> Schedule:
    """A pending switch of the group to ``model_id`` (None: to no model) at ``run_at``
    (aware), or from then on once the live model's calls of the day reach ``after_calls``."""
    if run_at.tzinfo is None or run_at.utcoffset() is None:
        raise ValidationError(_l("Give the time with its offset from UTC."), field="run_at")
    if not is_capability(capability):
        raise ValidationError(
            _l("Unknown capability: %(value)s", value=capability), field="capability"
        )
    if after_calls is not None and after_calls < 1:
        raise ValidationError(_l("Give a whole number of calls above zero."), field="after_calls")
    provider = activation.lock_provider(provider_id)
    name = ""
    if model_id is not None:
        model = db.session.get(AIModel, model_id)
        if model is None or model.provider_id != provider_id:
            raise ValidationError(_l("The model is not a model of this provider."), field="model")
        if capability not in model.capabilities:
            raise ValidationError(
                _l("This model does not have the capability %(value)s.", value=capability),
                field="model",
            )
        name = model.display_name
    schedule = Schedule(
        provider_id=provider.id,
        capability=capability,
        model_id=model_id,
        clears=model_id is None,
        model_name=name,
        run_at=run_at,
        after_calls=after_calls,
        status=PENDING,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(schedule)
    db.session.flush()
    audit.record(
        "schedule.create",
        schedule,
        actor=actor,
        after=_snapshot(schedule, provider),
        target_repr=_repr(schedule),
    )
    return schedule


@transactional
def cancel(schedule_id: int, *, actor=None) -> Schedule:
    """Cancel a pending schedule; a Conflict (409) once it ran or was cancelled."""
    locked = select(Schedule).where(Schedule.id == schedule_id).with_for_update()
    schedule = one_or_404(locked, NOT_FOUND, "schedule")
    if schedule.status != PENDING:
        raise Conflict(_l("This schedule is no longer pending and cannot be cancelled."))
    schedule.status = CANCELLED
    schedule.result = _("The schedule was cancelled.")
    audit.record(
        "schedule.cancel",
        schedule,
        actor=actor,
        before={"status": PENDING},
        after={"status": CANCELLED},
        target_repr=_repr(schedule),
    )
    return schedule


def apply_due(now: datetime | None = None, *, limit: int = 1000) -> list[Applied]:
    """Apply every schedule due at ``now``, each in its own transaction, in ``run_at``
    order within a group (a schedule waits while an earlier one of its group is in
    another runner's hands)."""
    now = now or utcnow()
    finished: list[Applied] = []
    waiting: set[int] = set()  # usage-based ones whose threshold is not reached yet
    behind: set[int] = set()  # ones behind an earlier schedule another runner holds
    idle_rounds = 0
    with force_locale("fa"):  # results are stored, in the dashboard's language
        while len(finished) < limit:
            outcome = _apply_next(now, waiting, behind)
            if outcome is not None:
                if outcome.status != PENDING:
                    finished.append(outcome)
                    idle_rounds = 0
                continue
            if not behind or idle_rounds >= MAX_IDLE_ROUNDS:
                break
            behind.clear()  # the other runner is likely done with the earlier one by now
            idle_rounds += 1
            time.sleep(IDLE_PAUSE_S)
    return finished


@transactional
def _apply_next(now: datetime, waiting: set[int], behind: set[int]) -> Applied | None:
    statement = (
        select(Schedule)
        .where(Schedule.status == PENDING, Schedule.run_at <= now)
        .order_by(Schedule.run_at, Schedule.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if waiting or behind:
        statement = statement.where(Schedule.id.not_in(waiting | behind))
    schedule = db.session.scalar(statement)
    if schedule is None:
        return None
    if schedule.after_calls is not None and not _quota_reached(schedule, now):
        waiting.add(schedule.id)
        return Applied(schedule.id, PENDING, "")
    if _earlier_in_group(schedule, now, waiting):
        behind.add(schedule.id)
        return Applied(schedule.id, PENDING, "")
    reason = _refusal(schedule)
    if reason is None:
        status, result = _switch(schedule)
    else:
        status, result = FAILED, reason
    schedule.status = status
    schedule.result = result
    schedule.applied_at = utcnow()
    audit.record(
        "schedule.apply",
        schedule,
        actor=_author(schedule),
        after={"status": status, "result": result},
        target_repr=_repr(schedule),
    )
    return Applied(schedule.id, status, result)


def _earlier_in_group(schedule: Schedule, now: datetime, waiting: set[int]) -> bool:
    """An earlier due schedule of the same group is still pending (SKIP LOCKED passed
    over it: another runner holds it). Applying this one first would reverse them."""
    earlier = (
        select(Schedule.id)
        .where(
            Schedule.provider_id == schedule.provider_id,
            Schedule.capability == schedule.capability,
            Schedule.status == PENDING,
            Schedule.after_calls.is_(None),
            Schedule.run_at <= now,
            or_(
                Schedule.run_at < schedule.run_at,
                and_(Schedule.run_at == schedule.run_at, Schedule.id < schedule.id),
            ),
        )
        .limit(1)
    )
    if waiting:
        earlier = earlier.where(Schedule.id.not_in(waiting))
    return db.session.scalar(earlier) is not None


def _refusal(schedule: Schedule) -> str | None:
    """Why the schedule can no longer apply, or None."""
    provider = db.session.get(Provider, schedule.provider_id)
    if not provider.is_enabled:
        return _("The provider «%(provider)s» is disabled.", provider=provider.slug)
    if schedule.clears:
        return None
    if schedule.model_id is None:
        return _("The model «%(model)s» of this schedule was deleted.", model=schedule.model_name)
    has_capability = count(
        ModelCapability,
        ModelCapability.model_id == schedule.model_id,
        ModelCapability.capability == schedule.capability,
    )
    if not has_capability:
        return _(
            "The model «%(model)s» no longer has the capability %(capability)s.",
            model=schedule.model_name,
            capability=schedule.capability,
        )
    return None


def _switch(schedule: Schedule) -> tuple[str, str]:
    actor = _author(schedule)
    # A savepoint: a refusal from activation undoes its own writes, not the claim.
    savepoint = db.session.begin_nested()
    try:
        if schedule.clears:
            outcome = activation.clear_group(schedule.provider_id, schedule.capability, actor=actor)
            text = messages.model_deactivated() if outcome else _("The group had no live model.")
        else:
            outcome = activation.activate(schedule.model_id, [schedule.capability], actor=actor)
            text = (
                " ".join(outcome.messages())
                if outcome.changed
                else _("The model was already live.")
            )
    except DomainError as exc:
        savepoint.rollback()
        return FAILED, str(exc)
    savepoint.commit()
    return DONE, text


def _quota_reached(schedule: Schedule, now: datetime) -> bool:
    """The live model's calls since the start of today (Tehran) reached ``after_calls``."""
    provider = db.session.get(Provider, schedule.provider_id)
    live = get_active_model(provider.slug, schedule.capability)
    if live is None:
        return False
    since = day_start_utc(now.astimezone(TEHRAN).date())
    calls = count(
        UsageCall,
        UsageCall.provider == provider.slug,
        UsageCall.capability == schedule.capability,
        UsageCall.model == live.model_id,
        UsageCall.at >= since,
    )
    return calls >= schedule.after_calls


def _author(schedule: Schedule) -> ScheduledActor:
    admin = db.session.get(Admin, schedule.created_by_id) if schedule.created_by_id else None
    who = admin.username if admin else "system"
    return ScheduledActor(admin.id if admin else None, f"{who} (schedule {schedule.id})"[:64])


def _repr(schedule: Schedule) -> str:
    target = schedule.model_name or "—"
    return f"#{schedule.id} {schedule.capability} → {target}"


def _snapshot(schedule: Schedule, provider: Provider) -> dict:
    return {
        "provider": provider.slug,
        "capability": schedule.capability,
        "model": schedule.model_id,
        "model_name": schedule.model_name,
        "run_at": schedule.run_at.isoformat(),
        "after_calls": schedule.after_calls,
    }
