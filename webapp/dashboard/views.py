"""The dashboard's pages."""

from __future__ import annotations

from flask import Blueprint, render_template

from webapp.auth import permission_required

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@permission_required("view_models")
def index():
    return render_template("dashboard/index.html")
