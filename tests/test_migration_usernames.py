"""The migration to case-insensitive usernames refuses data it would break, and the
index it makes keeps "Admin" and "admin" apart on both databases."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from tests import support
from tests.support import flask_db
from tests.test_migrations import PG_URL
from webapp.config import _normalise_database_url

INSERT = text(
    "INSERT INTO admin (username, display_name, password_hash, role, is_enabled,"
    " session_version, created_at, updated_at)"
    " VALUES (:name, '', 'x', 'viewer', :yes, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)


def check(url: str) -> None:
    assert flask_db(url, "upgrade", "0003_provider_key_origin").returncode == 0
    engine = create_engine(_normalise_database_url(url))
    try:
        with engine.begin() as conn:
            for name in ("sara", "Sara", "omid"):
                conn.execute(INSERT, {"name": name, "yes": True})
        refused = flask_db(url, "upgrade")
        assert refused.returncode != 0
        assert "differ only in case" in refused.stderr and "'sara' (2 accounts)" in refused.stderr
        with engine.begin() as conn:  # nothing changed: still at 0003, the data intact
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
                "0003_provider_key_origin"
            )
            assert conn.execute(text("SELECT count(*) FROM admin")).scalar() == 3
            conn.execute(text("UPDATE admin SET username = 'sara2' WHERE username = 'Sara'"))
        done = flask_db(url, "upgrade")
        assert done.returncode == 0, done.stderr
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(INSERT, {"name": "OMID", "yes": True})
    finally:
        engine.dispose()


def test_case_duplicates_stop_the_migration_on_sqlite(tmp_path):
    check(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.postgres
def test_case_duplicates_stop_the_migration_on_postgresql():
    url = support.create_database(PG_URL, f"mcp_migrate_names_{os.getpid()}")
    try:
        check(url)
    finally:
        support.drop_database(PG_URL, url)
