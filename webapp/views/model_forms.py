"""The model form (create and edit)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField, StringField
from wtforms.fields import TextAreaField
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.capabilities import CAPABILITIES, LABELS

try:  # WTForms ≥ 3.3 deprecates (value, label) tuples
    from wtforms.fields.choices import SelectChoice as _Choice
except ImportError:  # pragma: no cover - older WTForms

    def _Choice(value, label):
        return (value, label)


def choices(pairs) -> list:
    return [_Choice(value, label) for value, label in pairs]


REQUIRED = _l("This field is required.")


def _length(max_length: int) -> Length:
    return Length(max=max_length, message=_l("At most %(max)d characters are allowed."))


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ModelForm(FlaskForm):
    provider = SelectField(
        _l("Provider"), validators=[InputRequired(REQUIRED)], choices=[], validate_choice=False
    )
    name = StringField(
        _l("Name"),
        validators=[InputRequired(REQUIRED), _length(100)],
        description=_l("A short unique name in Latin letters, for example gpt-4o."),
    )
    model_id = StringField(
        _l("Model id at the provider"),
        validators=[InputRequired(REQUIRED), _length(200)],
        description=_l("Exactly as the provider's API expects it, for example openai/gpt-4o."),
    )
    display_name = StringField(
        _l("Display name"), validators=[InputRequired(REQUIRED), _length(200)]
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), _length(2000)])
    capabilities = CheckboxesField(
        _l("Capabilities"),
        choices=choices((c, LABELS[c]) for c in CAPABILITIES),
        validate_choice=False,
    )
    activate = BooleanField(_l("Make it the active model for all its capabilities now"))
    # Set by the confirmation step: the admin has seen which models activation deactivates.
    confirmed = HiddenField()

    def data_for_service(self) -> dict:
        data = {
            "name": self.name.data or "",
            "model_id": self.model_id.data or "",
            "display_name": self.display_name.data or "",
            "description": self.description.data or "",
            "capabilities": list(self.capabilities.data or []),
        }
        if self.activate.data:
            data["is_active"] = True
        return data


class DeleteForm(FlaskForm):
    """Only the CSRF token: the confirmation page's button."""
