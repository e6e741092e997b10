"""The models page: which model is live per (provider, capability), and the model forms.

A radio change posts one group's choice (``models.choose``). When activation would take
another model's place, the first answer is the confirmation dialog (computed from the
state at the time of the click); the confirmed post activates under the service's lock
and answers with the affected groups and the flash messages, all out of band.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import inspect
from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField, StringField
from wtforms.fields import TextAreaField
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from webapp import messages, validation
from webapp.access import permission_required
from webapp.capabilities import CAPABILITIES, LABELS, is_capability, label
from webapp.errors import DomainError, ValidationError
from webapp.operations import activation, catalog, undo
from webapp.queries import listing
from webapp.queries.groups import (
    Filters,
    build_sections,
    compact_sections,
    conflicts_for,
    found_count,
    group_dom_id,
    group_summaries,
    groups_for,
    is_compact,
    load_provider_names,
    load_providers,
    page_groups,
    summaries_compact,
    summaries_shown,
    totals,
    totals_of_summaries,
)
from webapp.views import model_form_guard
from webapp.views.auth import safe_next
from webapp.views.forms import ConfirmForm, isolated, or_abort, show_error
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


def page_context() -> dict:
    """Everything the page (or its results block) shows, for the request's filters.

    Without a search, the groups are first counted by the database; when the page would
    show more than ``COMPACT_LIMIT`` models it lists one line per group and loads no
    model but the live ones, ten providers a page, so the first screen stays small at
    any catalogue size."""
    filters = Filters.from_args(request.args)
    summaries, model_count = group_summaries()
    shown = summaries_shown(summaries, filters)
    provider_pages = None
    if not filters.q and summaries_compact(shown):
        page = _int(request.args.get("page")) or 1
        providers, sections, provider_pages = compact_sections(shown, filters, page)
        compact = True
    else:
        providers = load_providers()
        sections = build_sections(providers, filters)
        compact = is_compact(sections)
    return {
        "sections": sections,
        "groups": page_groups(sections),
        "compact": compact,
        "provider_pages": provider_pages,
        "found": found_count(sections) if filters.q else None,
        "filters": filters,
        "providers": providers,
        "capabilities": [(c, label(c)) for c in CAPABILITIES],
        "can_manage": _can_manage(),
        "back_url": _back_url(filters),
        "totals": totals_of_summaries(summaries, model_count),
    }


@bp.get("/models")
@permission_required("view_models")
def index():
    context = page_context()
    return page(TEMPLATE, "results" if hx_target() == "model-results" else None, **context)


@bp.get("/models/groups/<int:provider_id>/<capability>")
@permission_required("view_models")
def group(provider_id: int, capability: str):
    """One group, opened in place from its one-line summary (the compact view)."""
    if not is_capability(capability):
        abort(404)
    filters = Filters.from_args(request.args)
    found = groups_for({(provider_id, capability)}, filters.q)
    if not found:
        abort(404)
    body = render_block(
        TEMPLATE,
        "one_group",
        group=found[0],
        can_manage=_can_manage(),
        filters=filters,
        back_url=_back_url(filters),
    )
    return fragment(body)


@bp.post("/models/choose")
@permission_required("manage_models")
def choose():
    """One group's radio changed: a model id, or empty for «هیچ‌کدام»; with ``undo``,
    the toast's «برگرداندن» (the switch back, if the group is as that switch left it)."""
    provider_id = _int(request.form.get("provider"))
    capability = request.form.get("capability", "")
    raw_model = (request.form.get("model") or "").strip()
    if provider_id is None:
        abort(400, description=_("The request does not say which provider."))
    if not is_capability(capability):
        abort(400, description=_("Unknown capability: %(value)s", value=capability[:40] or "—"))
    filters = _filters_of_page()
    confirmed = request.form.get("confirm") == "1"
    stamp = request.form.get("undo")
    try:
        if stamp is not None:
            outcome = _undo(provider_id, capability, raw_model, stamp[:80])
        elif raw_model in ("", "none"):
            outcome = _clear(catalog.get_provider(provider_id), capability, confirmed)
        else:
            outcome = _activate(provider_id, capability, _int(raw_model), confirmed)
    except DomainError as exc:
        abort(exc.status, description=str(exc.message))
    if not isinstance(outcome, Done):
        return outcome  # the confirmation dialog
    groups = groups_for({(provider_id, capability)}, filters.q)
    switched = _switched(outcome, groups[0] if groups else None, provider_id, capability)
    body = render_block(
        TEMPLATE,
        "changed",
        groups=groups,
        can_manage=True,
        filters=filters,
        back_url=_back_url(filters),
        # One live model in place of another leaves the summary as it was: its counts
        # (a scan of every group) are sent only when the group was emptied or filled.
        totals=None if switched.live and switched.lost else totals(),
        oob=True,
    )
    return fragment(body + render_block(TEMPLATE, "switch_toast", switched=switched))


@dataclass
class Switched:
    """What the toast says after a switch, and how to undo it."""

    said: list[str]  # the seed's messages («مدل فعال شد», «N مدل دیگر غیرفعال شد»)
    provider: object
    capability: str
    live: object | None = None  # the model now live, None when the group was emptied
    lost: list = field(default_factory=list)  # the models that lost the group
    undo: dict | None = None  # the switch back's form fields

    @property
    def capability_label(self) -> str:
        return label(self.capability)

    @property
    def dom_id(self) -> str:
        return group_dom_id(self.provider.id, self.capability)

    @property
    def lost_names(self) -> Markup:
        return Markup(_(", ")).join(isolated(m.display_name) for m in self.lost)


@dataclass
class Done:
    """A committed switch, before its group is loaded again for the answer."""

    said: list[str]
    live_id: int | None = None  # None: the group was emptied
    lost_ids: list[int] = field(default_factory=list)
    changed: bool = True


def _id(model) -> int:
    """A model's id without a query: after the commit its attributes are expired."""
    return inspect(model).identity[0]


def _done(result, capability: str) -> Done:
    """What an activation or a clear (``result``; None: nothing was live) did to the group."""
    if result is None:
        return Done([_("This group had no active model.")], changed=False)
    if isinstance(result, activation.ActivationResult):
        if not result.changed:
            return Done([_("This model was already active.")], _id(result.model), changed=False)
        lost = [mid for mid, cap in result.deactivated_ids if cap == capability]
        return Done(result.messages(), _id(result.model), lost)
    if not result.changed:
        return Done([_("This group had no active model.")], changed=False)
    return Done([messages.model_deactivated()], None, [_id(result.model)])


def _switched(done: Done, group, provider_id: int, capability: str) -> Switched:
    """The toast, from the group as the answer shows it (its models are loaded already)."""
    shown = {m.id: m for m in group.models} if group else {}

    def model(model_id):
        return shown.get(model_id) or catalog.get_model(model_id)

    provider = group.provider if group else catalog.get_provider(provider_id)
    live = model(done.live_id) if done.live_id else None
    stamp = group.stamp if group else "none"
    expected = "none" if done.live_id is None else f"{done.live_id}@"
    undo_fields = None
    # The way back is offered only while the group is as this switch left it.
    if done.changed and (stamp == expected or stamp.startswith(expected)):
        undo_fields = {
            "provider": provider_id,
            "capability": capability,
            "model": done.lost_ids[0] if done.lost_ids else "",
            "undo": stamp,
        }
    lost = [model(mid) for mid in done.lost_ids]
    return Switched(done.said, provider, capability, live=live, lost=lost, undo=undo_fields)


def _clear(provider, capability: str, confirmed: bool):
    """«هیچ‌کدام»: asks first when a model is live, since its calls will fail."""
    if not confirmed:
        group = next(iter(groups_for({(provider.id, capability)})), None)
        if group is not None and group.active is not None:
            return _confirmation(group.active, capability)
    result = activation.clear_group(provider.id, capability, actor=current_user)
    return _done(result, capability)


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
    return _done(result, capability)


def _undo(provider_id: int, capability: str, raw_model: str, stamp: str) -> Done:
    restore = None if raw_model in ("", "none") else _int(raw_model)
    if restore is None and raw_model not in ("", "none"):
        abort(400, description=_("The chosen model is not valid."))
    if restore is not None and catalog.get_model(restore).provider_id != provider_id:
        abort(400, description=_("This model does not belong to this provider."))
    result = undo.switch_back(provider_id, capability, restore, stamp=stamp, actor=current_user)
    return _done(result, capability)


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


def next_url() -> str:
    """Where a form goes back to: the request's ``next`` when it is safe, else the models page."""
    return safe_next(request.values.get("next") or url_for("models.index"))


def _unconfirmed(form: ModelForm, provider, caps: list[str], exclude: int | None = None) -> list:
    """The live models "activate now" would take out of service, while the admin has not
    confirmed them for this provider and these capabilities (the form then asks first)."""
    mark = f"{provider.slug}|{','.join(sorted(caps))}"
    conflicts = conflicts_for(provider.id, caps, exclude) if form.activate.data else []
    if not conflicts or form.confirmed.data == mark:
        return []
    form.confirmed.data = mark
    return conflicts


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


def _form_page(form, *, model=None, conflicts=(), status=200):
    return (
        render_template(
            "models/form.html", form=form, model=model, conflicts=conflicts, next=next_url()
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
    if conflicts := _unconfirmed(form, provider, data["capabilities"]):
        return _form_page(form, conflicts=conflicts)
    try:
        model, result = catalog.create_model(provider, data, actor=current_user)
    except DomainError as exc:
        show_error(form, exc, aliases=FORM_FIELDS)
        return _form_page(form, status=400)
    said = [_("The model %(name)s was created.", name=model.display_name)]
    if result is not None:
        said += result.messages()
    for text in said:
        flash(text, "success")
    return redirect(next_url())


@bp.app_template_global("edit_urls")
def edit_urls(models, back_url: str | None = None) -> dict[int, str]:
    """Each model's edit address (returning to ``back_url``), from one ``url_for``: a
    group renders two links per model, and building each one cost a switch's answer a
    few milliseconds per hundred models."""
    sample = url_for("models.edit", model_id=0, next=back_url)
    head, tail = sample.split("/0/edit", 1)
    return {model.id: f"{head}/{model.id}/edit{tail}" for model in models}


@bp.route("/models/<int:model_id>/edit", methods=["GET", "POST"])
@permission_required("manage_models")
def edit(model_id: int):
    model = or_abort(catalog.get_model, model_id)
    form = ModelForm(obj=model if request.method == "GET" else None)
    del form.provider
    if request.method == "GET":
        form.capabilities.data = model.capabilities
        return _form_page(form, model=model)
    valid = form.validate_on_submit()
    data = form.data_for_service()
    if not (_precheck(form, data) and valid):
        return _form_page(form, model=model, status=400)
    if (held := model_form_guard.confirm_dropped_live(model, data)) is not None:
        return held
    if conflicts := _unconfirmed(form, model.provider, data["capabilities"], model.id):
        return _form_page(form, model=model, conflicts=conflicts)
    try:
        model, result = catalog.update_model(model.id, data, actor=current_user)
    except DomainError as exc:
        show_error(form, exc, aliases=FORM_FIELDS)
        # The failed transaction expired the model: load it again here, not in the template.
        return _form_page(form, model=or_abort(catalog.get_model, model_id), status=400)
    flash(messages.model_updated(result.deactivated_count if result else 0), "success")
    return redirect(next_url())


@bp.route("/models/<int:model_id>/delete", methods=["GET", "POST"])
@permission_required("manage_models")
def delete(model_id: int):
    model = or_abort(catalog.get_model, model_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = model.display_name
        or_abort(catalog.delete_model, model.id, actor=current_user)
        flash(_("The model %(name)s was deleted.", name=name), "success")
        return redirect(next_url())
    return render_template("models/delete.html", model=model, form=form, next=next_url())


# --- the model list: sortable, filterable, bulk actions ---------------------------------

LIST_TEMPLATE = "models/list.html"
BULK_LABELS = {
    "enable": _l("Make active (every capability)"),
    "disable": _l("Take out of service"),
    "delete": _l("Delete"),
}


@dataclass(frozen=True)
class ListArgs:
    """The list's query string: filters, sort and page (malformed values dropped)."""

    provider: str = ""
    capability: str = ""
    status: str = ""
    q: str = ""
    sort: str = "name"
    order: str = "asc"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> ListArgs:
        base = Filters.from_args(args)
        status = args.get("status", "")
        sort = args.get("sort", "")
        return cls(
            provider=base.provider,
            capability=base.capability,
            status=status if status in ("active", "inactive") else "",
            q=base.q,
            sort=sort if sort in listing.LIST_SORTS else "name",
            order="desc" if args.get("order") == "desc" else "asc",
            page=min(_int(args.get("page")) or 1, 100_000),
        )

    def as_args(self, **changes) -> dict:
        values = {**vars(self), **changes}
        defaults = {"sort": "name", "order": "asc", "page": 1}
        return {k: v for k, v in values.items() if v and defaults.get(k) != v}

    def sorted_by(self, column: str) -> dict:
        """The arguments for a click on ``column``'s heading: that column, or its reverse."""
        order = "desc" if self.sort == column and self.order == "asc" else "asc"
        return self.as_args(sort=column, order=order, page=1)


@bp.get("/models/list")
@permission_required("view_models")
def model_list():
    args = ListArgs.from_args(request.args)
    rows, pagination = listing.model_list(
        provider=args.provider,
        capability=args.capability,
        status=args.status,
        q=args.q,
        sort=args.sort,
        descending=args.order == "desc",
        page=args.page,
    )
    return render_template(
        LIST_TEMPLATE,
        rows=rows,
        pagination=pagination,
        args=args,
        providers=load_provider_names(),
        capabilities=[(c, label(c)) for c in CAPABILITIES],
        actions=BULK_LABELS,
        can_manage=_can_manage(),
        here=url_for("models.model_list", **args.as_args()),
    )


@bp.post("/models/list/action")
@permission_required("manage_models")
def bulk_action():
    """First post: the confirmation page naming every selected model and the effect;
    the confirmed post runs the action (all or nothing) and flashes what changed."""
    form = ConfirmForm()
    back = safe_next(request.form.get("next") or url_for("models.model_list"))
    if not form.validate_on_submit():
        abort(400, description=_("The form expired. Please try again."))
    action = request.form.get("action", "")
    ids = [i for i in (_int(v) for v in request.form.getlist("ids")) if i is not None]
    if action not in BULK_LABELS:
        flash(_("Choose an action for the selected models."), "error")
        return redirect(back)
    if not ids:
        flash(_("Select at least one model."), "error")
        return redirect(back)
    try:
        models = [catalog.get_model(i) for i in sorted(set(ids))[:500]]
        if action == "enable":
            catalog.refuse_shared_groups(models)
    except DomainError as exc:
        flash(str(exc.message), "error")
        return redirect(back)
    if request.form.get("confirm") != "1":
        return render_template(
            "models/bulk_confirm.html",
            form=form,
            action=action,
            action_label=BULK_LABELS[action],
            models=models,
            conflicts=_bulk_conflicts(models) if action == "enable" else [],
            next=back,
        )
    try:
        result = catalog.bulk_models(action, [m.id for m in models], actor=current_user)
    except DomainError as exc:
        flash(str(exc.message), "error")
        return redirect(back)
    flash(_bulk_message(result), "success")
    return redirect(back)


def _bulk_conflicts(models) -> list:
    """The live models enabling the selection would take out of service."""
    selected = {m.id for m in models}
    found = {}
    for model in models:
        for conflict in conflicts_for(model.provider_id, model.capabilities, model.id):
            if conflict.model.id not in selected:
                found[conflict.model.id] = conflict
    return list(found.values())


def _bulk_message(result: catalog.BulkResult) -> str:
    if result.action == "enable":
        text = ngettext(
            "%(num)d model was made active.", "%(num)d models were made active.", result.changed
        )
        if result.deactivated:
            text += " " + messages.other_models_deactivated(result.deactivated)
        return text
    if result.action == "disable":
        return ngettext(
            "%(num)d model was taken out of service.",
            "%(num)d models were taken out of service.",
            result.changed,
        )
    return ngettext("%(num)d model was deleted.", "%(num)d models were deleted.", result.changed)
