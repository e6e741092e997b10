"""Exit 1 when the fa catalogue has an untranslated or fuzzy entry (run after `make i18n`).

English needs no catalogue: Flask-Babel falls back to the msgid.
"""

import sys
from pathlib import Path

from babel.messages.pofile import read_po

PO = Path(__file__).resolve().parent / "fa" / "LC_MESSAGES" / "messages.po"

with PO.open("rb") as fh:
    catalog = read_po(fh, locale="fa")
bad = []
for message in catalog:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    if message.id and (message.fuzzy or not all(strings)):
        bad.append(message.id if isinstance(message.id, str) else message.id[0])
for msgid in bad:
    print(f"fa: untranslated or fuzzy: {msgid}")
sys.exit(1 if bad else 0)
