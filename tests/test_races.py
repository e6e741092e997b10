"""Creates racing for one unique name on PostgreSQL: every loser gets the same 400 (field
and Persian message) as a sequential duplicate, never a 500 from the unique index.

Both writers pass the "is it taken?" check before either commits; the database's
unique index stops the second one, and that refusal must read like the check's.
"""

from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import func, select

from tests import support
from webapp.errors import ValidationError
from webapp.extensions import db
from webapp.models import Admin, Provider
from webapp.operations import admins

PG_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
THREADS = 8
SLUG_TAKEN = "ارائه‌دهنده‌ای با این شناسه (slug) از قبل وجود دارد."


@pytest.fixture
def pg_app(app_factory, database_url):
    """The test's app on PostgreSQL: the suite's database when it runs on PostgreSQL,
    else a database of this test's own."""
    own = None
    if database_url is None:
        own = support.create_database(PG_URL, f"mcp_race_{os.getpid()}")
        app = app_factory(SQLALCHEMY_DATABASE_URI=own)
    else:
        app = app_factory()
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()
    if own:
        support.drop_database(PG_URL, own)


def race(app, work) -> list:
    """Run ``work(i)`` in THREADS threads released together; returns each result or error."""
    barrier = threading.Barrier(THREADS)
    results: list = [None] * THREADS

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait(10)
                results[i] = work(i)
            except BaseException as exc:  # the test inspects it
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.postgres
def test_concurrent_creates_of_one_provider_slug(pg_app):
    admin = admins.create_admin("racer", support.PASSWORD, "superadmin", actor="test")
    _, token = admins.create_token(admin, "race")
    db.session.remove()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"slug": "openrouter", "name": "OpenRouter"}

    def create(i: int):
        response = pg_app.test_client().post("/api/v1/ai-providers/", json=body, headers=headers)
        return response.status_code, response.get_json()

    results = race(pg_app, create)

    assert not [r for r in results if isinstance(r, BaseException)], results
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [400] * (THREADS - 1), results
    for status, answer in results:
        if status == 400:
            assert answer["errors"] == {"slug": [SLUG_TAKEN]}, answer
            assert answer["metaData"]["message"]
    assert db.session.scalar(select(func.count()).select_from(Provider)) == 1


@pytest.mark.postgres
def test_concurrent_creates_of_one_username(pg_app):
    def create(i: int):
        return admins.create_admin("twin", support.PASSWORD, "viewer", actor="test")

    results = race(pg_app, create)

    created = [r for r in results if isinstance(r, Admin)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(created) == 1 and len(refused) == THREADS - 1, [type(r) for r in results]
    assert {r.field for r in refused} == {"username"}
    taken = "این نام کاربری گرفته شده است (حروف بزرگ و کوچک یکسان حساب می\u200cشوند)."
    assert {str(r.message) for r in refused} == {taken}
    assert db.session.scalar(select(func.count()).select_from(Admin)) == 1


def test_a_unique_violation_reads_like_the_check_on_either_database(app):
    """The mapping itself, on the suite's database (SQLite names the columns in its
    message, PostgreSQL the constraint): a write that skips the check."""
    from webapp.db import transactional
    from webapp.models import AIModel

    @transactional
    def add(row):
        db.session.add(row)

    add(Provider(slug="acme", name="Acme"))
    with pytest.raises(ValidationError) as slug_taken:
        add(Provider(slug="acme", name="Acme again"))
    assert slug_taken.value.field == "slug"
    assert str(slug_taken.value.message) == SLUG_TAKEN

    provider_id = db.session.scalar(select(Provider.id))
    add(AIModel(provider_id=provider_id, name="m", model_id="v/m", display_name="M"))
    with pytest.raises(ValidationError) as name_taken:
        add(AIModel(provider_id=provider_id, name="m", model_id="v/other", display_name="M"))
    assert name_taken.value.field == "name"
    assert str(name_taken.value.message) == "این ارائه‌دهنده از قبل مدلی با این نام دارد."
    assert db.session.scalar(select(func.count()).select_from(Provider)) == 1
