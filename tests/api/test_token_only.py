"""On /api/, an Authorization header means token-only authentication: the session
cookie is ignored, and a header that is not a valid token is 401."""

from __future__ import annotations

import pytest

from tests.support import API, envelope_error
from webapp.extensions import db
from webapp.models import AIModel

UNAUTHORIZED = "احراز هویت لازم است: وارد شوید یا یک توکن Bearer معتبر بفرستید."


def is_active(model) -> bool:
    db.session.expire_all()
    return db.session.get(AIModel, model.id).is_active


@pytest.mark.parametrize("header", ["Bearer junk", "Bearer ", "Basic YWRtaW46cGFzcw==", "x"])
def test_a_junk_authorization_header_does_not_borrow_the_session(login_as, group, header):
    client = login_as("superadmin")
    response = client.patch(
        f"{API}/ai-models/{group['claude'].id}/",
        json={"is_active": True},
        headers={"Authorization": header},
    )
    envelope_error(response, 401, UNAUTHORIZED)
    assert not is_active(group["claude"])
    assert client.get(f"{API}/ai-models/", headers={"Authorization": header}).status_code == 401


def test_a_valid_token_acts_as_its_owner_not_as_the_session(login_as, group, bearer):
    client = login_as("superadmin")
    response = client.patch(
        f"{API}/ai-models/{group['claude'].id}/", json={"is_active": True}, headers=bearer("viewer")
    )
    assert response.status_code == 403
    assert not is_active(group["claude"])
