"""What every page module shares: showing a service's refusal next to its field,
and loading a row or answering 404."""

from __future__ import annotations

from typing import TypeVar

from flask import abort, flash
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from markupsafe import Markup

from webapp.errors import DomainError
from webapp.extensions import db

T = TypeVar("T")


def show_error(form: FlaskForm, error: DomainError) -> None:
    """Put ``error`` under its field when the form has that field; flash it as well,
    so the ``role="alert"`` area announces that something needs attention."""
    field = form._fields.get(error.field) if error.field else None
    if field is not None:
        field.errors = [*field.errors, str(error.message)]
        flash(_("The form was not saved: please correct the marked field."), "error")
    else:
        flash(str(error.message), "error")


def get_or_404(model: type[T], ident: int) -> T:
    row = db.session.get(model, ident)
    if row is None:
        abort(404)
    return row


def checkbox(form: FlaskForm, name: str) -> bool:
    return bool(form._fields[name].data)


def isolated(value: object) -> Markup:
    """A name that may be Latin, isolated so it never reorders the Persian sentence
    around it (for messages built in Python, e.g. flashes)."""
    return Markup("<bdi>{}</bdi>").format(value)
