"""The fixed capability vocabulary (docs/CONTRACTS.md §1): fixed identifiers, translated labels."""

from flask_babel import lazy_gettext as _l

from webapp.i18n import labeller

LABELS = {
    "chat": _l("Chat"),
    "code": _l("Code"),
    "image": _l("Image"),
    "embedding": _l("Embedding"),
    "vision": _l("Vision"),
    "transcription": _l("Transcription"),
    "speech": _l("Speech"),
}
CAPABILITIES: tuple[str, ...] = tuple(LABELS)  # the vocabulary, in the labels' order

label = labeller(LABELS)

_ORDER = {cap: i for i, cap in enumerate(CAPABILITIES)}


def sort_capabilities(caps) -> list[str]:
    """Vocabulary order, duplicates removed."""
    return sorted(set(caps), key=lambda c: _ORDER.get(c, len(_ORDER)))


def is_capability(value: object) -> bool:
    return isinstance(value, str) and value in _ORDER
