"""The models page: which model is live per (provider, capability), and the model forms.

A radio change posts one group's choice (``models.choose``). When activation would take
another model's place, the first answer is the confirmation dialog (computed from the
state at the time of the click); the confirmed post activates under the service's lock
and answers with the affected groups and the flash messages, all out of band.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField, StringField
from wtforms.fields import TextAreaField
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from webapp import messages, validation
from webapp.access import permission_required
from webapp.capabilities import CAPABILITIES, LABELS, is_capability, label
from webapp.errors import DomainError, ValidationError
from webapp.operations import activation, catalog
from webapp.queries.groups import (
    Filters,
    build_sections,
    conflicts_for,
    group_dom_id,
    groups_for,
    load_providers,
)
from webapp.views.auth import _safe_next
from webapp.views.forms import ConfirmForm, isolated, show_error
from webapp.views.htmx import flash_oob, fragment, hx_target, page, render_block

bp = Blueprint("models", __name__)

TEMPLATE = "models/index.html"
FORM_FIELDS = {"is_active": "activate"}

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


def _can_manage() -> bool:
    return current_user.can("manage_models")


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def _filters_of_page() -> Filters:
    """The filters of the page the htmx request came from (they survive a change)."""
    current = request.headers.get("HX-Current-URL", "")
    return Filters.from_args(dict(parse_qsl(urlsplit(current).query)))


def _back_url(filters: Filters) -> str:
    return url_for("models.index", **filters.as_args())


# --- the page --------------------------------------------------------------------------


@bp.get("/models")
@permission_required("view_models")
def index():
    filters = Filters.from_args(request.args)
    providers = load_providers()
    sections = build_sections(providers, filters)
    all_groups = [g for s in build_sections(providers, Filters()) for g in s.groups]
    context = {
        "sections": sections,
        "filters": filters,
        "providers": providers,
        "capabilities": [(c, label(c)) for c in CAPABILITIES],
        "can_manage": _can_manage(),
        "back_url": _back_url(filters),
        "totals": {
            "models": sum(len(p.models) for p in providers),
            "groups": len(all_groups),
            "empty": sum(1 for g in all_groups if g.active is None),
        },
    }
    return page(TEMPLATE, "results" if hx_target() == "model-results" else None, **context)


@bp.post("/models/choose")
@permission_required("manage_models")
def choose():
    """One group's radio changed: a model id, or empty for «هیچ‌کدام»."""
    provider_id = _int(request.form.get("provider"))
    capability = request.form.get("capability", "")
    raw_model = (request.form.get("model") or "").strip()
    if provider_id is None:
        abort(400, description=_("The request does not say which provider."))
    if not is_capability(capability):
        abort(400, description=_("Unknown capability: %(value)s", value=capability[:40] or "—"))
    filters = _filters_of_page()
    confirmed = request.form.get("confirm") == "1"
    try:
        if raw_model in ("", "none"):
            outcome = _clear(catalog.get_provider(provider_id), capability, confirmed)
        else:
            outcome = _activate(provider_id, capability, _int(raw_model), confirmed)
    except DomainError as exc:
        abort(exc.status, description=str(exc.message))
    if not isinstance(outcome, tuple):
        return outcome  # the confirmation dialog
    said, affected = outcome
    body = render_block(
        TEMPLATE,
        "changed",
        groups=groups_for(affected, filters.q),
        can_manage=True,
        filters=filters,
        back_url=_back_url(filters),
    )
    return fragment(body + flash_oob(success=said))


def _clear(provider, capability: str, confirmed: bool):
    """«هیچ‌کدام»: asks first when a model is live, since its calls will fail."""
    if not confirmed:
        group = next(iter(groups_for({(provider.id, capability)})), None)
        if group is not None and group.active is not None:
            return _confirmation(group.active, capability)
    result = activation.clear_group(provider.id, capability, actor=current_user)
    if result is None:
        return [_("This group had no active model.")], {(provider.id, capability)}
    said = [
        messages.model_deactivated(),
        _(
            "%(model)s no longer serves %(capability)s of %(provider)s.",
            model=isolated(result.model.display_name),
            capability=label(capability),
            provider=isolated(provider.name),
        ),
    ]
    return said, {(provider.id, capability)}


def _activate(provider_id: int, capability: str, model_id: int | None, confirmed: bool):
    if model_id is None:
        abort(400, description=_("The chosen model is not valid."))
    if not confirmed:
        provider = catalog.get_provider(provider_id)
        model = catalog.get_model(model_id)
        if model.provider_id != provider.id:
            abort(400, description=_("This model does not belong to this provider."))
        preview = activation.preview(model, [capability])
        if preview.conflicts:
            return _confirmation(model, capability, preview)
    # Confirmed: the operation finds the provider and the model, and checks that one
    # belongs to the other, under the lock.
    result = activation.activate(
        model_id, [capability], actor=current_user, provider_id=provider_id
    )
    said = result.messages() if result.changed else [_("This model was already active.")]
    # A model loses an activation only in the groups being switched.
    return said, set(result.affected_groups)


def _confirmation(model, capability: str, preview=None):
    """The dialog: activating ``model`` (its ``preview``), or, without a preview,
    taking the live ``model`` out of service («هیچ‌کدام»)."""
    body = render_block(
        TEMPLATE,
        "confirm_dialog",
        model=model,
        capability=capability,
        capability_label=label(capability),
        preview=preview,
        group_id=group_dom_id(model.provider_id, capability),
    )
    return fragment(body + flash_oob())


# --- the forms -------------------------------------------------------------------------


def _next_url() -> str:
    return _safe_next(request.values.get("next") or url_for("models.index"))


def _fingerprint(provider: str, caps: list[str]) -> str:
    """What the admin confirmed: the same provider and capabilities, activated."""
    return f"{provider}|{','.join(sorted(caps))}"


def _precheck(form: ModelForm, data: dict) -> bool:
    """Every field's own check up front (all errors at once, before any preview step);
    the service checks again, with the rules that need the database."""
    checks = (
        ("name", validation.model_name),
        ("model_id", validation.model_identifier),
        ("display_name", lambda v: validation.text(v, "display_name", max_length=200)),
        ("capabilities", validation.capabilities),
    )
    refused: dict[str, list[str]] = {}
    for key, check in checks:
        if form[key].errors:
            continue  # one message per field: the form's own check already spoke
        try:
            check(data[key])
        except DomainError as exc:
            for name, texts in exc.errors.items():
                refused.setdefault(name or "", []).extend(texts)
    if refused:
        show_error(form, ValidationError(next(iter(refused.values()))[0], errors=refused))
    return not refused and not any(form[key].errors for key, _check in checks)


def _flash_all(texts: list[str]) -> None:
    for text in texts:
        flash(text, "success")


def _form_page(form, *, model=None, conflicts=(), status=200):
    return (
        render_template(
            "models/form.html", form=form, model=model, conflicts=conflicts, next=_next_url()
        ),
        status,
    )


@bp.get("/models/preview")
@permission_required("manage_models")
def preview():
    """The form's live preview: which models saving with "activate now" would deactivate."""
    conflicts = None
    if request.args.get("activate"):
        exclude = _int(request.args.get("model"))
        provider_id = None
        if exclude is not None:
            try:
                provider_id = catalog.get_model(exclude).provider_id
            except DomainError:
                exclude = None
        if provider_id is None:
            try:
                provider_id = catalog.get_provider(request.args.get("provider", "")).id
            except DomainError:
                provider_id = None
        caps = [c for c in request.args.getlist("capabilities") if is_capability(c)]
        if provider_id is not None and caps:
            conflicts = conflicts_for(provider_id, caps, exclude)
    return fragment(render_block("models/form.html", "preview", preview=conflicts))


@bp.route("/models/new", methods=["GET", "POST"])
@permission_required("manage_models")
def create():
    providers = load_providers()
    form = ModelForm()
    form.provider.choices = choices((p.slug, p.name) for p in providers)
    if request.method == "GET":
        form.provider.data = request.args.get("provider", "")
        if is_capability(request.args.get("capability")):
            form.capabilities.data = [request.args["capability"]]
        return _form_page(form)
    valid = form.validate_on_submit()
    data = form.data_for_service()
    valid = _precheck(form, data) and valid
    provider = next((p for p in providers if p.slug == form.provider.data), None)
    if provider is None and not form.provider.errors:
        form.provider.errors = [*form.provider.errors, _("The provider was not found.")]
    if not valid or provider is None:
        return _form_page(form, status=400)
    if form.activate.data:
        mark = _fingerprint(provider.slug, data["capabilities"])
        conflicts = conflicts_for(provider.id, data["capabilities"])
        if conflicts and form.confirmed.data != mark:
            form.confirmed.data = mark
            return _form_page(form, conflicts=conflicts)
    try:
        model, result = catalog.create_model(provider, data, actor=current_user)
    except DomainError as exc:
        show_error(form, exc, aliases=FORM_FIELDS)
        return _form_page(form, status=400)
    said = [_("The model %(name)s was created.", name=model.display_name)]
    if result is not None:
        said += result.messages()
    _flash_all(said)
    return redirect(_next_url())


@bp.route("/models/<int:model_id>/edit", methods=["GET", "POST"])
@permission_required("manage_models")
def edit(model_id: int):
    model = _model_or_404(model_id)
    form = ModelForm(obj=model if request.method == "GET" else None)
    del form.provider
    if request.method == "GET":
        form.capabilities.data = model.capabilities
        return _form_page(form, model=model)
    valid = form.validate_on_submit()
    data = form.data_for_service()
    if not (_precheck(form, data) and valid):
        return _form_page(form, model=model, status=400)
    if form.activate.data:
        mark = _fingerprint(model.provider.slug, data["capabilities"])
        conflicts = conflicts_for(model.provider_id, data["capabilities"], model.id)
        if conflicts and form.confirmed.data != mark:
            form.confirmed.data = mark
            return _form_page(form, model=model, conflicts=conflicts)
    try:
        model, result = catalog.update_model(model.id, data, actor=current_user)
    except DomainError as exc:
        show_error(form, exc, aliases=FORM_FIELDS)
        # The failed transaction expired the model: load it again here, not in the template.
        return _form_page(form, model=_model_or_404(model_id), status=400)
    _flash_all([messages.model_updated(result.deactivated_count if result else 0)])
    return redirect(_next_url())


@bp.route("/models/<int:model_id>/delete", methods=["GET", "POST"])
@permission_required("manage_models")
def delete(model_id: int):
    model = _model_or_404(model_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = model.display_name
        try:
            catalog.delete_model(model.id, actor=current_user)
        except DomainError as exc:
            abort(exc.status, description=str(exc.message))
        _flash_all([_("The model %(name)s was deleted.", name=name)])
        return redirect(_next_url())
    return render_template("models/delete.html", model=model, form=form, next=_next_url())


def _model_or_404(model_id: int):
    try:
        return catalog.get_model(model_id)
    except DomainError as exc:
        abort(exc.status, description=str(exc.message))
