"""Undo of a switch on the models page: a normal, audited switch back, allowed only
while the group is still as the switch left it."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from webapp.db import transactional
from webapp.errors import Conflict
from webapp.operations.activation import (
    ActivationResult,
    DeactivationResult,
    activate,
    clear_group,
)
from webapp.operations.locks import lock_provider
from webapp.queries.groups import group_stamp

GROUP_CHANGED = _l(
    "This group changed after that switch, so it can no longer be undone. "
    "Choose the model you want directly."
)


@transactional
def switch_back(
    provider_id: int,
    capability: str,
    restore_model_id: int | None,
    *,
    stamp: str,
    actor=None,
) -> ActivationResult | DeactivationResult | None:
    """Make ``restore_model_id`` live again in the group (None: leave it empty), if the
    group's ``group_stamp`` is still ``stamp``; otherwise refuse and change nothing.

    The provider lock is taken before the check, so no other switch can slip in between.
    """
    lock_provider(provider_id)
    if group_stamp(provider_id, capability) != stamp:
        raise Conflict(GROUP_CHANGED)
    if restore_model_id is None:
        return clear_group(provider_id, capability, actor=actor)
    return activate(restore_model_id, [capability], actor=actor)
