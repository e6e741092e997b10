"""Clean URLs for GET forms: a search form submits every field, so an untouched filter
arrives as ``?q=&provider=``. The list views answer such a request with a redirect to
the same address without the empty parameters, so a URL that is shared or bookmarked
says only what was asked."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import redirect, request
from werkzeug.wrappers import Response


def redirect_without_empty_args() -> Response | None:
    """A 302 to the same path without the empty query parameters, or None when there
    is none to drop (call it first thing in a GET view)."""
    pairs = list(request.args.items(multi=True))
    kept = [(name, value) for name, value in pairs if value.strip()]
    if len(kept) == len(pairs):
        return None
    return redirect(request.path + (f"?{urlencode(kept)}" if kept else ""), 302)
