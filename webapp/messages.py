"""The seed's messages (docs/CONTRACTS.md §4). English source strings; the fa catalogue
gives the Persian text verbatim. Numbers stay ASCII digits, as in the seed."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext


def model_retrieved() -> str:
    return _("Active model retrieved")


def model_activated() -> str:
    return _("Model activated")


def model_deactivated() -> str:
    return _("Model deactivated")


def other_models_deactivated(count: int) -> str:
    return ngettext(
        "%(num)d other model was deactivated", "%(num)d other models were deactivated", count
    )


def no_active_model() -> str:
    return _("There is no active model for this Provider+Capability")


def multiple_active_models() -> str:
    return _("Several active models for one Provider+Capability are not allowed")


def conflicting_models(model_name: str) -> str:
    return _(
        "Activating this model will deactivate the model %(model_name)s", model_name=model_name
    )


def model_updated(deactivated_count: int = 0) -> str:
    """«مدل به‌روزرسانی شد» and, when activation deactivated others, «N مدل دیگر غیرفعال شد»."""
    text = _("Model updated")
    if deactivated_count:
        text = _(
            "%(updated)s. %(others)s",
            updated=text,
            others=other_models_deactivated(deactivated_count),
        )
    return text
