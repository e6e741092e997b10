"""``/api/v1/schedules/`` and ``/api/v1/routing/…``: the traffic policies over the API."""

from __future__ import annotations

from sqlalchemy import func, select

from webapp.models import AuditEvent, RoutingFallback, RoutingSplit, Schedule
from webapp.operations import activation, catalog
from webapp.queries.lookup import get_active_model

SCHEDULE_KEYS = {
    "id",
    "provider",
    "capability",
    "model",
    "run_at",
    "status",
    "result",
    "created_by",
    "created_at",
    "applied_at",
}


def openrouter_chat_at(run_at: str, model=None) -> dict:
    """A schedule's body: openrouter's chat group switches to ``model`` (an id, or None
    to clear it) at ``run_at``."""
    return {"provider": "openrouter", "capability": "chat", "model": model, "run_at": run_at}


def count(db, table) -> int:
    return db.session.scalar(select(func.count()).select_from(table))


def test_schedule_create_read_list_and_cancel(api, group, db):
    body = openrouter_chat_at("2030-03-21T09:00:00+03:30", group["claude"].id)
    created = api("POST", "/schedules/", json=body)
    assert created.status_code == 201, created.json
    data = created.json["data"]
    assert set(data) == SCHEDULE_KEYS
    assert data["run_at"] == "2030-03-21T05:30:00+00:00"
    assert data["status"] == "pending" and data["model"] == group["claude"].id
    assert created.json["metaData"]["message"] == "زمان‌بندی ثبت شد"
    assert created.headers["Location"].endswith(f"/api/v1/schedules/{data['id']}/")

    assert api("GET", f"/schedules/{data['id']}/").json["data"] == data
    listed = api("GET", "/schedules/?status=pending").json
    assert [s["id"] for s in listed["data"]] == [data["id"]]

    cancelled = api("DELETE", f"/schedules/{data['id']}/")
    assert cancelled.status_code == 200
    assert cancelled.json["data"]["status"] == "cancelled"
    again = api("DELETE", f"/schedules/{data['id']}/")
    assert again.status_code == 409
    assert again.json["metaData"]["message"] == (
        "این زمان‌بندی دیگر در انتظار اجرا نیست و لغو نمی‌شود."
    )


def test_a_schedule_to_none_and_a_naive_time(api, group, db):
    ok = api(
        "POST",
        "/schedules/",
        json=openrouter_chat_at("2030-01-01T00:00:00Z"),
    )
    assert ok.status_code == 201 and ok.json["data"]["model"] is None
    naive = api(
        "POST",
        "/schedules/",
        json=openrouter_chat_at("2030-01-01T00:00:00"),
    )
    assert naive.status_code == 400
    assert naive.json["errors"]["run_at"] == ["زمان را همراه با اختلافش با UTC بدهید."]
    assert count(db, Schedule) == 1


def test_bad_schedules_are_refused_in_persian(api, group, db):
    base = openrouter_chat_at("2030-01-01T00:00:00+00:00", group["claude"].id)
    for change, status in (
        ({"capability": "image"}, 400),
        ({"capability": "nope"}, 400),
        ({"provider": "nobody"}, 404),
        ({"model": "3"}, 400),
        ({"model": True}, 400),
        ({"run_at": "tomorrow"}, 400),
        ({"after_calls": 0}, 400),
        ({"extra": 1}, 400),
    ):
        response = api("POST", "/schedules/", json=base | change)
        assert response.status_code == status, (change, response.json)
        assert response.json["metaData"]["status"] == "error"
    assert count(db, Schedule) == 0


def test_a_viewer_reads_but_cannot_schedule(client, bearer, group, db):
    viewer = bearer("viewer")
    assert client.get("/api/v1/schedules/", headers=viewer).status_code == 200
    response = client.post(
        "/api/v1/schedules/",
        headers=viewer,
        json=openrouter_chat_at("2030-01-01T00:00:00+00:00"),
    )
    assert response.status_code == 403
    assert count(db, Schedule) == 0


def test_routing_put_get_and_audit(api, group, make_provider, make_model, db):
    other = make_provider("backup")
    spare = make_model(other, "spare", caps=["chat"])
    body = {
        "fallbacks": [spare.id, group["claude"].id],
        "split": [{"model": group["llama"].id, "percent": 10}],
    }
    response = api("PUT", "/routing/openrouter/chat/", json=body)
    assert response.status_code == 200, response.json
    assert response.json["data"] == body
    assert response.json["metaData"]["message"] == "مسیریابی به‌روزرسانی شد"
    assert api("GET", "/routing/openrouter/chat/").json["data"] == body
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "routing.update")
        )
        == 1
    )
    # is_active stays false for the arm and the fallbacks
    db.session.expire_all()
    assert not group["llama"].is_active and not spare.is_active


def test_bad_routing_is_refused_and_changes_nothing(api, group, make_provider, make_model, db):
    other = make_provider("backup")
    foreign = make_model(other, "foreign", caps=["chat"])
    imager = make_model(other, "imager", caps=["image"])
    gpt, claude, llama = group["gpt"].id, group["claude"].id, group["llama"].id
    for body, field in (
        ({"fallbacks": [gpt], "split": []}, "fallbacks"),  # the live model
        ({"fallbacks": [claude, claude], "split": []}, "fallbacks"),
        ({"fallbacks": [imager.id], "split": []}, "fallbacks"),  # lacks the capability
        ({"fallbacks": [], "split": [{"model": foreign.id, "percent": 10}]}, "split"),
        ({"fallbacks": [], "split": [{"model": gpt, "percent": 10}]}, "split"),
        ({"fallbacks": [], "split": [{"model": claude, "percent": 51}]}, "split"),
        ({"fallbacks": [], "split": [{"model": claude, "percent": 0}]}, "split"),
        (
            {
                "fallbacks": [],
                "split": [{"model": claude, "percent": 50}, {"model": llama, "percent": 41}],
            },
            "split",
        ),
        ({"fallbacks": [], "split": [{"model": claude}]}, "split"),
        ({"fallbacks": ["x"], "split": []}, "fallbacks"),
    ):
        response = api("PUT", "/routing/openrouter/chat/", json=body)
        assert response.status_code == 400, body
        assert field in response.json["errors"], response.json
        assert response.json["metaData"]["status"] == "error"
    assert count(db, RoutingFallback) == 0 and count(db, RoutingSplit) == 0
    assert (
        api("PUT", "/routing/nobody/chat/", json={"fallbacks": [], "split": []}).status_code == 404
    )
    assert api("GET", "/routing/openrouter/nope/").status_code == 400


def test_a_deleted_model_leaves_every_routing(api, group, make_provider, make_model, db):
    other = make_provider("backup")
    spare = make_model(other, "spare", caps=["chat"])
    api(
        "PUT",
        "/routing/openrouter/chat/",
        json={"fallbacks": [spare.id], "split": [{"model": group["claude"].id, "percent": 10}]},
    )
    catalog.delete_model(spare.id)
    catalog.delete_model(group["claude"].id)
    assert api("GET", "/routing/openrouter/chat/").json["data"] == {"fallbacks": [], "split": []}


def test_promoting_an_arm_ends_its_share(api, group, db):
    claude = group["claude"].id
    api(
        "PUT",
        "/routing/openrouter/chat/",
        json={"fallbacks": [claude], "split": [{"model": claude, "percent": 10}]},
    )
    activation.activate(claude, ["chat"])
    assert get_active_model("openrouter", "chat").id == claude
    assert api("GET", "/routing/openrouter/chat/").json["data"] == {"fallbacks": [], "split": []}


def test_the_openapi_document_describes_the_policies(api):
    doc = api("GET", "/openapi.json").get_json()
    routing_path = doc["paths"]["/routing/{slug}/{capability}/"]
    assert [p["name"] for p in routing_path["parameters"]] == ["slug", "capability"]
    assert routing_path["put"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Routing"
    }
    assert "409" in doc["paths"]["/schedules/{schedule_id}/"]["delete"]["responses"]
    create = doc["components"]["schemas"]["ScheduleCreate"]
    assert set(create["required"]) == {"provider", "capability", "model", "run_at"}
    listed = doc["paths"]["/schedules/"]["get"]["parameters"]
    status = next(p for p in listed if p["name"] == "status")
    assert status["schema"]["enum"] == ["pending", "done", "failed", "cancelled"]


def test_a_repeated_or_unknown_list_parameter_is_refused(api, group):
    for query, field, message in (
        ("status=pending&status=done", "status", "این پارامتر را فقط یک بار بفرستید."),
        ("status=later", "status", "وضعیت ناشناخته است."),
        ("when=now", "when", "پارامتر ناشناخته."),
    ):
        response = api("GET", f"/schedules/?{query}")
        assert response.status_code == 400, query
        assert response.json["errors"][field] == [message], response.json
