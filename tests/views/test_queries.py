"""Lists read their rows in a fixed number of queries: no query per row, none in templates."""

from __future__ import annotations

import pytest

from tests.support import text
from webapp.extensions import db
from webapp.operations import admins


def queries_for(client, path: str, count_queries) -> int:
    db.session.expire_all()
    with count_queries() as n:
        response = client.get(path)
    assert response.status_code == 200
    return len(n)


@pytest.mark.parametrize("path", ["/providers", "/admins", "/tokens"])
def test_list_query_count_does_not_grow_with_rows(
    login_as, make_provider, make_model, make_admin, count_queries, path
):
    client = login_as("superadmin")

    def add_rows(n: int) -> None:
        for _ in range(n):
            p = make_provider(shared_api_key="sk-some-key-1234")
            make_model(p)
            make_admin("viewer")
            admins.create_token(client.admin, "t")

    add_rows(2)
    few = queries_for(client, path, count_queries)
    add_rows(6)
    many = queries_for(client, path, count_queries)

    assert many == few, (path, few, many)
    assert "<table" in text(client.get(path))
