"""htmx on the server: tell fragment requests from page loads, render one block of a
template, and send flash messages out of band into the layout's message area."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response, current_app, make_response, render_template, request

FLASH_TEMPLATE = "_flash.html"


def is_htmx() -> bool:
    """An htmx request that wants a fragment (not a boosted page load or a history restore)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def hx_target() -> str:
    return request.headers.get("HX-Target", "") if is_htmx() else ""


def render_block(template_name: str, block: str, **context) -> str:
    """Render one ``{% block %}`` of a template with the full template context."""
    current_app.update_template_context(context)
    template = current_app.jinja_env.get_template(template_name)
    ctx = template.new_context(context)
    return "".join(template.blocks[block](ctx))


def flash_oob(success: Iterable[str] = (), errors: Iterable[str] = ()) -> str:
    """Both message areas, out of band: each swap replaces what the last action said."""
    return render_template(FLASH_TEMPLATE, success=list(success), errors=list(errors))


def vary(response: Response, *headers: str) -> Response:
    for header in ("HX-Request", *headers):
        response.vary.add(header)
    return response


def fragment(body: str, status: int = 200, **headers: str) -> Response:
    response = make_response(body, status)
    for key, value in headers.items():
        response.headers[key.replace("_", "-")] = value
    return vary(response)
