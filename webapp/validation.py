"""Checks shared by every way data comes in (forms, API, CLI, import).

Each raises ValidationError with a translated message and the field's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlparse

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from webapp.ai import egress
from webapp.capabilities import is_capability, sort_capabilities
from webapp.errors import ValidationError

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")
# Persian writing needs the joiners (ZWNJ, the half-space; ZWJ) and the direction
# marks (LRM, RLM). Every other invisible format character stays refused: the bidi
# embeddings, overrides and isolates can make a name read differently than it is.
DISPLAY_MARKS = frozenset("\u200c\u200d\u200e\u200f")


def has_control_characters(value: str) -> bool:
    """Controls (C0, C1), surrogates, bidi overrides and other invisible characters,
    except the joiners and direction marks Persian text needs."""
    return any(not ch.isprintable() and ch not in DISPLAY_MARKS for ch in value)


def text(value: object, field: str, *, max_length: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(_l("This field must be text."), field=field)
    value = value.strip()
    if required and not value:
        raise ValidationError(_l("This field is required."), field=field)
    if len(value) > max_length:
        raise ValidationError(
            _l("At most %(max)d characters are allowed.", max=max_length), field=field
        )
    if has_control_characters(value):
        raise ValidationError(_l("Control characters are not allowed."), field=field)
    return value


def slug(value: object, field: str = "slug") -> str:
    value = text(value, field, max_length=50)
    if not SLUG_RE.match(value):
        raise ValidationError(
            _l("Use lowercase Latin letters, digits and hyphens only (for example open-router)."),
            field=field,
        )
    return value


def model_name(value: object, field: str = "name") -> str:
    value = text(value, field, max_length=100)
    if not NAME_RE.match(value):
        raise ValidationError(
            _l("Use Latin letters, digits and . _ : / @ + - only, without spaces."), field=field
        )
    return value


def model_identifier(value: object, field: str = "model_id") -> str:
    value = text(value, field, max_length=200)
    if any(ch.isspace() for ch in value):
        raise ValidationError(_l("The model id cannot contain spaces."), field=field)
    return value


def base_url(value: object, field: str = "base_url") -> str:
    value = text(value, field, max_length=500, required=False)
    if not value:
        return ""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValidationError(
            _l("Enter a full address starting with http:// or https://."), field=field
        )
    problem = egress.form_problem(value)
    if problem is not None:
        raise ValidationError(problem, field=field)
    if not _allow_private() and egress.refused_host(
        parsed.hostname, parsed.port or egress.DEFAULT_PORTS[parsed.scheme], unresolved_ok=True
    ):
        raise ValidationError(
            _l(
                "This address is on a local or private network (loopback, private, "
                "link-local); a provider's address must be public."
            ),
            field=field,
        )
    return value.rstrip("/")


def _allow_private() -> bool:
    return has_app_context() and bool(current_app.config.get("PROVIDER_ALLOW_PRIVATE"))


def boolean(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ValidationError(_l("This field must be true or false."), field=field)


def capabilities(value: object, field: str = "capabilities") -> list[str]:
    """A non-empty list of known capability identifiers, in vocabulary order."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError(_l("Capabilities must be a list."), field=field)
    items = list(value)
    if not items:
        raise ValidationError(_l("Choose at least one capability."), field=field)
    unknown = [str(v) for v in items if not is_capability(v)]
    if unknown:
        raise ValidationError(
            _l("Unknown capability: %(value)s", value=", ".join(unknown)[:100]), field=field
        )
    return sort_capabilities(items)
