"""Many admins at once: 8 threads, each with its own session, racing in one provider.

Waiting for the lock is fine; a database error reaching the caller ("database is
locked", a deadlock, a unique violation) is a failure, and so is any moment in
which a group has two active models.
"""

from __future__ import annotations

import random
import threading

from sqlalchemy import func, select

from webapp.capabilities import CAPABILITIES
from webapp.extensions import db
from webapp.models import AuditEvent, ModelCapability
from webapp.operations import activation

THREADS = 8
OPS_PER_THREAD = 15  # 120 operations in all


def groups_with_two_active():
    return db.session.execute(
        select(ModelCapability.provider_id, ModelCapability.capability, func.count())
        .where(ModelCapability.is_active)
        .group_by(ModelCapability.provider_id, ModelCapability.capability)
        .having(func.count() > 1)
    ).all()


def test_random_concurrent_activations_keep_the_rule(app, make_provider, make_model):
    provider = make_provider("race")
    caps_pool = [
        ["chat"],
        ["chat", "code"],
        ["code", "vision"],
        ["chat", "vision"],
        ["chat", "code", "vision"],
        ["image"],
        ["image", "vision"],
    ]
    model_ids = [make_model(provider, caps=caps).id for caps in caps_pool * 2]
    caps_of = {mid: caps_pool[i % len(caps_pool)] for i, mid in enumerate(model_ids)}
    audit_before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    db.session.remove()

    errors: list[BaseException] = []
    changes: list[int] = []  # audit events each operation should have written
    violations: list[tuple] = []
    done = threading.Event()
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        with app.app_context():
            try:
                for _ in range(OPS_PER_THREAD):
                    mid = rng.choice(model_ids)
                    caps = rng.sample(caps_of[mid], rng.randint(1, len(caps_of[mid])))
                    if rng.random() < 0.7:
                        result = activation.activate(mid, caps, actor="race")
                        written = (1 + result.deactivated_count) if result.changed else 0
                    else:
                        result = activation.deactivate(mid, caps, actor="race")
                        written = 1 if result.changed else 0
                    with lock:
                        changes.append(written)
            except BaseException as exc:
                errors.append(exc)
            finally:
                db.session.remove()

    def sampler() -> None:
        with app.app_context():
            while not done.is_set():
                found = groups_with_two_active()
                if found:
                    violations.append(tuple(found))
                db.session.remove()
                done.wait(0.005)

    watcher = threading.Thread(target=sampler)
    watcher.start()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    done.set()
    watcher.join()

    assert not errors, [repr(e) for e in errors[:3]]
    assert len(changes) == THREADS * OPS_PER_THREAD
    assert not violations
    assert groups_with_two_active() == []
    # Every change is in the audit trail: one event per changed model.
    audit_after = db.session.scalar(select(func.count()).select_from(AuditEvent))
    assert audit_after - audit_before == sum(changes)
    assert sum(changes) > 0
    # And the activation state is one the rule allows for every capability.
    for cap in CAPABILITIES:
        holders = db.session.scalars(
            select(ModelCapability.model_id).where(
                ModelCapability.capability == cap, ModelCapability.is_active
            )
        ).all()
        assert len(holders) <= 1
