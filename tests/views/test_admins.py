"""Admins page (manage_admins): create, change role, disable/enable, reset password;
no admin can lock themselves out."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.support import PASSWORD, field_error, text
from webapp.extensions import db
from webapp.models import Admin


def admin_count() -> int:
    return db.session.scalar(select(func.count(Admin.id)))


def reload(admin) -> Admin:
    db.session.expire_all()
    return db.session.get(Admin, admin.id)


def test_list_shows_admins_with_role_and_state(login_as, make_admin):
    client = login_as("superadmin")
    viewer = make_admin("viewer", username="reader")
    from webapp.operations import admins

    admins.update_admin(viewer, is_enabled=False)

    body = text(client.get("/admins"))

    row = body.split(f'id="admin-{viewer.id}"')[1].split("</tr>")[0]
    assert '<bdi dir="ltr">reader</bdi>' in row
    assert "بیننده" in row and "خیر" in row and "هرگز" in row
    me = body.split(f'id="admin-{client.admin.id}"')[1].split("</tr>")[0]
    assert "شما" in me and "مدیر ارشد" in me


def test_create_admin(login_as, post):
    client = login_as("superadmin")

    response = post(
        client,
        "/admins/new",
        {
            "username": "sara",
            "display_name": "سارا",
            "role": "operator",
            "password": "s3cure-pass!",
        },
        follow_redirects=True,
    )

    assert "sara" in text(response) and "ایجاد شد" in text(response)
    sara = db.session.scalar(select(Admin).where(Admin.username == "sara"))
    assert sara.role == "operator" and sara.display_name == "سارا"
    assert sara.check_password("s3cure-pass!")
    assert "s3cure-pass!" not in text(response)


BAD_ADMINS = [
    ("username", {"username": ""}, "الزامی"),
    ("username", {"username": "has space"}, "بدون فاصله"),
    ("username", {"username": "taken"}, "گرفته"),
    ("password", {"password": "short1"}, "دست‌کم"),
    ("password", {"password": "onlyletterslong"}, "ترکیبی"),
    ("password", {"password": "12345678901"}, "ترکیبی"),
    ("role", {"role": "emperor"}, "نقش ناشناخته"),
    ("display_name", {"display_name": "d" * 121}, "حداکثر"),
]


@pytest.mark.parametrize(("field", "change", "message"), BAD_ADMINS)
def test_create_refuses_bad_input_next_to_the_field(
    login_as, make_admin, post, field, change, message
):
    make_admin("viewer", username="taken")
    client = login_as("superadmin")
    before = admin_count()
    data = {"username": "newbie", "display_name": "", "role": "viewer", "password": "good-pass-42"}

    response = post(client, "/admins/new", data | change)

    assert response.status_code == 400
    error = field_error(text(response), field)
    assert error and message in error, error
    assert admin_count() == before


def test_change_role_and_display_name(login_as, make_admin, post):
    client = login_as("superadmin")
    target = make_admin("viewer")

    response = post(client, f"/admins/{target.id}/edit", {"display_name": "Ali", "role": "admin"})

    assert response.status_code == 302
    target = reload(target)
    assert target.role == "admin" and target.display_name == "Ali"


def test_unknown_role_on_edit_changes_nothing(login_as, make_admin, post):
    client = login_as("superadmin")
    target = make_admin("viewer")

    response = post(client, f"/admins/{target.id}/edit", {"display_name": "X", "role": "god"})

    assert response.status_code == 400
    assert "نقش ناشناخته" in field_error(text(response), "role")
    assert reload(target).role == "viewer"


def test_disable_and_enable(login_as, make_admin, post):
    client = login_as("superadmin")
    target = make_admin("operator")

    response = post(client, f"/admins/{target.id}/disable", follow_redirects=True)
    assert "غیرفعال شد" in text(response)
    assert reload(target).is_enabled is False

    post(client, f"/admins/{target.id}/enable")
    assert reload(target).is_enabled is True


def test_cannot_disable_oneself(login_as, post):
    client = login_as("superadmin")

    response = post(client, f"/admins/{client.admin.id}/disable")

    assert response.status_code == 400
    assert "نمی‌توانید حساب خودتان را غیرفعال کنید" in text(response)
    assert reload(client.admin).is_enabled is True
    assert client.get("/admins").status_code == 200  # still signed in


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_cannot_drop_ones_own_manage_admins(login_as, post, role):
    client = login_as("superadmin")

    response = post(client, f"/admins/{client.admin.id}/edit", {"display_name": "Me", "role": role})

    assert response.status_code == 400
    assert "دسترسی مدیریت کاربران را از خودتان بگیرید" in field_error(text(response), "role")
    assert reload(client.admin).role == "superadmin"


def test_reset_password(login_as, make_admin, post):
    client = login_as("superadmin")
    target = make_admin("viewer")

    response = post(client, f"/admins/{target.id}/password", {"reset-password": "brand-new-pass-9"})

    assert response.status_code == 302
    target = reload(target)
    assert target.check_password("brand-new-pass-9") and not target.check_password(PASSWORD)


@pytest.mark.parametrize(("password", "message"), [("", "دست‌کم"), ("abcdefghijk", "ترکیبی")])
def test_weak_reset_password_is_refused(login_as, make_admin, post, password, message):
    client = login_as("superadmin")
    target = make_admin("viewer")

    response = post(client, f"/admins/{target.id}/password", {"reset-password": password})

    assert response.status_code == 400
    assert message in field_error(text(response), "reset-password")
    assert reload(target).check_password(PASSWORD)


def test_resetting_ones_own_password_keeps_this_session(login_as, post):
    client = login_as("superadmin")

    post(client, f"/admins/{client.admin.id}/password", {"reset-password": "mine-new-pass-1"})

    assert reload(client.admin).check_password("mine-new-pass-1")
    assert client.get("/admins").status_code == 200


def test_unknown_admin_is_404(login_as, post):
    client = login_as("superadmin")
    assert client.get("/admins/999/edit").status_code == 404
    assert post(client, "/admins/999/disable").status_code == 404


def test_password_rule_is_stated_with_persian_digits(login_as):
    client = login_as("superadmin")
    assert "دست‌کم ۱۰ نویسه" in text(client.get("/admins/new"))
    assert "At least 10 characters" in text(client.get("/admins/new?lang=en"))
