"""The fa catalogue speaks with one voice (docs/GLOSSARY.md): «ارائه‌دهنده», never "Provider",
except in the seed's contract messages (docs/CONTRACTS.md §4), which keep their exact text;
one spelling per compound word; Persian quotation marks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale

from webapp import messages

PO = Path(__file__).resolve().parents[1] / "translations" / "fa" / "LC_MESSAGES" / "messages.po"

# The seed's messages, byte for byte (docs/CONTRACTS.md §4).
CONTRACT = {
    "Active model retrieved": "مدل فعال دریافت شد",
    "Model activated": "مدل فعال شد",
    "Model deactivated": "مدل غیرفعال شد",
    "%(num)d other model was deactivated": "%(num)d مدل دیگر غیرفعال شد",
    "There is no active model for this Provider+Capability": (
        "هیچ مدل فعالی برای این Provider+Capability وجود ندارد"
    ),
    "Several active models for one Provider+Capability are not allowed": (
        "چندین مدل فعال برای یک Provider+Capability مجاز نیست"
    ),
    "Activating this model will deactivate the model %(model_name)s": (
        "فعال کردن این مدل باعث غیرفعال شدن مدل %(model_name)s می‌شود"
    ),
    "Model updated": "مدل به‌روزرسانی شد",
}

# Spelled one way everywhere: the form on the left is refused, the right one is used.
FORBIDDEN = {
    "گفتگو": "گفت‌وگو",
    "جستجو": "جست‌وجو",
    "به صورت": "به‌صورت",
    "به جای": "به‌جای",
    "همه‌ی": "همهٔ",
    "جور است": "مطابقت دارد",
    "اینکه": "این‌که",
    "آنکه": "آن‌که",
    "ي": "ی (Persian yeh, not the Arabic one)",
    "ك": "ک (Persian kaf, not the Arabic one)",
    "“": "«",
    "”": "»",
}


def _entries() -> list[tuple[str, str]]:
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="fa")
    rows = []
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        rows.extend((msgid, s) for s in strings)
    return rows


ENTRIES = _entries()
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


def test_the_catalogue_is_read():
    assert len(ENTRIES) > 300
    assert dict(ENTRIES)["Provider"] == "ارائه‌دهنده"


def test_contract_messages_keep_their_exact_text():
    catalogue = dict(ENTRIES)
    for msgid, text in CONTRACT.items():
        assert catalogue[msgid] == text, msgid


def test_no_latin_provider_outside_the_contract_messages():
    offenders = [
        (msgid, text)
        for msgid, text in ENTRIES
        if msgid not in CONTRACT and re.search(r"provider", PLACEHOLDER.sub("", text), re.I)
    ]
    assert offenders == []


@pytest.mark.parametrize("wrong", sorted(FORBIDDEN))
def test_forbidden_spellings(wrong):
    offenders = [msgid for msgid, text in ENTRIES if wrong in text]
    assert offenders == [], f"«{wrong}» → «{FORBIDDEN[wrong]}» in {offenders}"


def test_capability_labels_keep_image_generation_apart_from_vision(app):
    from webapp import capabilities

    with force_locale("fa"):
        assert capabilities.label("image") == "تولید تصویر"
        assert capabilities.label("vision") == "بینایی (تحلیل تصویر)"
        assert capabilities.label("chat") == "گفت‌وگو"


def test_compiled_catalogue_serves_the_contract_and_the_dashboard_wording(app):
    from webapp.ai import errors

    with force_locale("fa"):
        assert (
            messages.no_active_model()
            == CONTRACT["There is no active model for this Provider+Capability"]
        )
        assert messages.other_models_deactivated(2) == "2 مدل دیگر غیرفعال شد"
        assert str(errors.ProviderTimeout().message) == "ارائه‌دهنده در زمان مقرر پاسخ نداد."
        for cls in (
            errors.ProviderAuthError,
            errors.ProviderRateLimited,
            errors.ProviderServerError,
            errors.ProviderRequestRejected,
            errors.ProviderUnreachable,
            errors.ProviderTimeout,
            errors.MalformedResponse,
            errors.ProviderUnavailable,
            errors.AIServiceError,
        ):
            text = str(cls().message)
            assert "Provider" not in text and "ارائه‌دهنده" in text, cls.__name__
