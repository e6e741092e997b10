"""The panel never loses its last enabled admin who may manage admins, not even when
two superadmins demote or disable each other at the same instant."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from tests import support
from tests.conftest import make_config
from webapp import create_app
from webapp.errors import DomainError, PermissionDenied, ValidationError
from webapp.extensions import db
from webapp.models import ROLES, Admin
from webapp.operations import admins

ROUNDS = 12


def managers() -> list[str]:
    db.session.expire_all()
    rows = db.session.scalars(select(Admin).where(Admin.is_enabled)).all()
    return sorted(a.username for a in rows if "manage_admins" in ROLES[a.role])


def test_an_admin_who_lost_the_right_cannot_act_on_a_stale_object(app, make_admin):
    a = make_admin("superadmin", username="anna")
    b = make_admin("superadmin", username="bahar")
    stale_b = db.session.get(Admin, b.id)
    admins.update_admin(b, role="admin", actor=a)
    with pytest.raises(PermissionDenied):
        admins.update_admin(a, role="admin", actor=stale_b)
    db.session.rollback()
    assert managers() == ["anna"]


def test_the_last_manager_cannot_be_disabled_or_demoted_by_anyone(app, make_admin):
    make_admin("superadmin", username="anna")
    anna = db.session.scalar(select(Admin).where(Admin.username == "anna"))
    for change in ({"role": "operator"}, {"is_enabled": False}):
        with pytest.raises(ValidationError) as caught:
            admins.update_admin(anna, actor=None, **change)  # the command line has no actor
        assert "مدیر" in str(caught.value.message)
        db.session.rollback()
        assert managers() == ["anna"]


def race(app, a_id: int, b_id: int, change: dict) -> tuple[list, list]:
    """anna changes bahar and bahar changes anna, at once; returns (done, refused)."""
    barrier = threading.Barrier(2)
    done, refused, errors = [], [], []

    def act(actor_id: int, target_id: int) -> None:
        with app.app_context():
            try:
                actor = db.session.get(Admin, actor_id)
                target = db.session.get(Admin, target_id)
                db.session.commit()
                barrier.wait(timeout=10)
                admins.update_admin(target, actor=actor, **change)
                done.append(actor_id)
            except DomainError as exc:
                refused.append(exc)
            except BaseException as exc:  # a database error reaching the caller is a bug
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=act, args=(a_id, b_id)),
        threading.Thread(target=act, args=(b_id, a_id)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    return done, refused


def run_races(app) -> None:
    for round_ in range(ROUNDS):
        change = {"role": "admin"} if round_ % 2 else {"is_enabled": False}
        with app.app_context():
            a = admins.create_admin(f"anna{round_}", support.PASSWORD, "superadmin")
            b = admins.create_admin(f"bahar{round_}", support.PASSWORD, "superadmin")
            # Nobody else may manage admins: this pair is the panel's last.
            for other in db.session.scalars(select(Admin).where(Admin.id.notin_([a.id, b.id]))):
                admins.update_admin(other, role="viewer")
            a_id, b_id = a.id, b.id
            db.session.remove()
        done, refused = race(app, a_id, b_id, change)
        assert len(done) == 1 and len(refused) == 1, (done, refused)
        with app.app_context():
            assert len(managers()) == 1
            db.session.remove()


def test_two_superadmins_racing_on_sqlite_leave_one(tmp_path):
    # Always SQLite, whatever the suite's database: PostgreSQL has its own test below.
    app = create_app(make_config(f"sqlite:///{tmp_path / 'race.db'}"))
    with app.app_context():
        db.create_all()
        db.session.remove()
    run_races(app)
    with app.app_context():
        db.engine.dispose()


@pytest.mark.postgres
def test_two_superadmins_racing_on_postgresql_leave_one(app_factory):
    with support.app_on_own_database(app_factory, "mcp_lastadmin") as app:
        run_races(app)
