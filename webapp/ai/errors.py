"""What can go wrong when the platform calls an AI provider, one class per cause.

Each error carries a Persian (translated) message for the page and a stable
``kind`` for the audit trail. None of them ever holds the API key: the message is
ours, ``detail`` is an HTTP status or a short, key-scrubbed note, and wrapped
httpx exceptions are not chained (their request carries the Authorization header).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from webapp import messages
from webapp.errors import DomainError, NoApiAccess


class AIServiceError(DomainError):
    """Base of every AI-call error; ``kind`` names the cause in the audit trail."""

    kind = "error"
    status = 502

    def __init__(self, message=None, *, detail: str = "", status_code: int | None = None):
        super().__init__(message if message is not None else self.default_message())
        self.detail = detail
        self.status_code = status_code

    default_text = _l("The AI provider could not answer.")

    @classmethod
    def default_message(cls):
        return cls.default_text


class NoActiveModel(AIServiceError):
    kind = "no_active_model"
    status = 404

    @classmethod
    def default_message(cls):
        return messages.no_active_model()


class ProviderUnavailable(AIServiceError):
    """The provider is disabled or has no base URL: nothing to call."""

    kind = "provider_unavailable"
    status = 409

    default_text = _l("This provider is disabled or has no API address.")


class ProviderAuthError(AIServiceError):
    kind = "auth"

    default_text = _l("The provider refused the API key (it is wrong, expired or not allowed).")


class ProviderRateLimited(AIServiceError):
    kind = "rate_limited"
    status = 429

    default_text = _l("The provider is limiting requests; try again in a little while.")


class ProviderServerError(AIServiceError):
    kind = "provider_error"

    default_text = _l("The provider had an internal error and could not answer.")


class ProviderRequestRejected(AIServiceError):
    """A 4xx other than 401/403/429: the provider did not accept the request."""

    kind = "rejected"

    default_text = _l("The provider rejected the request (for example an unknown model).")


class ProviderUnreachable(AIServiceError):
    kind = "unreachable"
    status = 503

    default_text = _l(
        "The provider cannot be reached (the address is wrong or the server is down)."
    )


class ProviderTimeout(AIServiceError):
    kind = "timeout"
    status = 504

    default_text = _l("The provider did not answer in time.")


class MalformedResponse(AIServiceError):
    kind = "malformed"

    default_text = _l("The provider's answer could not be understood.")


def error_kind(exc: BaseException) -> str:
    """The audit trail's name for ``exc``."""
    if isinstance(exc, AIServiceError):
        return exc.kind
    if isinstance(exc, NoApiAccess):
        return "no_api_access"
    if isinstance(exc, DomainError):
        return type(exc).__name__
    return "internal"
