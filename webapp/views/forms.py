"""Form pieces every page module shares: the confirmation step's form, a service's
refusal shown next to its field, and a Latin name isolated inside a Persian message
(and that message flashed)."""

from __future__ import annotations

from flask import abort, flash
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from markupsafe import Markup

from webapp.errors import DomainError


class ConfirmForm(FlaskForm):
    """Only the CSRF token: a confirmation step's button."""


def show_error(form: FlaskForm, error: DomainError, *, aliases: dict | None = None) -> None:
    """Put each of the service's messages under its field when the form has that field
    (``aliases`` maps a service field to the form's name for it); flash the rest, and
    flash a hint when a field was marked, so the ``role="alert"`` area announces it."""
    errors = error.errors or {error.field: [str(error.message)]}
    marked = False
    for name, texts in errors.items():
        field = form._fields.get((aliases or {}).get(name, name or "")) if name else None
        if field is None:
            for text in texts:
                flash(str(text), "error")
        else:
            field.errors = [*field.errors, *map(str, texts)]
            marked = True
    if marked:
        flash(_("The form was not saved: please correct the marked field."), "error")


def or_abort(call, *args, **kwargs):
    """``call(*args, **kwargs)``; a service's refusal becomes the error page (its status,
    its message), as when a URL names a row that does not exist."""
    try:
        return call(*args, **kwargs)
    except DomainError as exc:
        abort(exc.status, description=str(exc.message))


def isolated(value: object) -> Markup:
    """A name that may be Latin, isolated so it never reorders the Persian sentence
    around it (for messages built in Python, e.g. flashes)."""
    return Markup("<bdi>{}</bdi>").format(value)


def flash_done(message: str) -> None:
    """Flash the success ``message``, whose names were put in with ``isolated``: the
    sentence is our translation and the names are escaped, so the whole is safe markup."""
    flash(Markup(message), "success")
