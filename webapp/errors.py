"""Domain errors: each carries a translated message and, where it fits, the field."""

from __future__ import annotations


class DomainError(Exception):
    """Bad input or a rule the change would break; nothing was written."""

    status = 400

    def __init__(self, message, field: str | None = None, errors: dict | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field
        self.errors = errors or ({field: [str(message)]} if field else {})

    def __str__(self) -> str:
        return str(self.message)


class ValidationError(DomainError):
    status = 400


class NotFound(DomainError):
    status = 404


class PermissionDenied(DomainError):
    status = 403


class Conflict(DomainError):
    """The object's state forbids the change (e.g. a schedule that already ran)."""

    status = 409


class NoApiAccess(DomainError):
    """Neither a personal key nor a usable shared key: no request may be sent."""

    status = 403
