"""htmx on the server: tell fragment requests from page loads, answer one block of the
page's own template (``jinja2-fragments``), and send flash messages out of band into the
layout's message areas."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response, make_response, render_template, request
from jinja2_fragments.flask import render_block

__all__ = ["flash_oob", "fragment", "hx_target", "is_htmx", "page", "render_block", "vary"]


def is_htmx() -> bool:
    """An htmx request that wants a fragment (not a boosted page load or a history restore)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def hx_target() -> str:
    return request.headers.get("HX-Target", "") if is_htmx() else ""


def flash_oob(success: Iterable[str] = (), errors: Iterable[str] = ()) -> str:
    """Both message areas, out of band: each swap replaces what the last action said."""
    return render_template("_flash.html", success=list(success), errors=list(errors))


def vary(response: Response, *headers: str) -> Response:
    for header in ("HX-Request", *headers):
        response.vary.add(header)
    return response


def fragment(body: str, status: int = 200, **headers: str) -> Response:
    response = make_response(body, status)
    for key, value in headers.items():
        response.headers[key.replace("_", "-")] = value
    return vary(response)


def page(template: str, block: str | None = None, *, status: int = 200, **context) -> Response:
    """The whole page, or only ``block`` of it for an htmx request: one template serves both."""
    if block is not None and is_htmx():
        return vary(fragment(render_block(template, block, **context), status), "HX-Target")
    return vary(make_response(render_template(template, **context), status), "HX-Target")
