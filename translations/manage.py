"""Keep the catalogues in step with the code.

    python translations/manage.py update   # extract, merge into fa and en, fill from pending/
    python translations/manage.py check    # exit 1 if fa or en has an untranslated/fuzzy entry
    python translations/manage.py compile  # .po -> .mo (done by `make install`)

``pending/*.json`` files map English msgids to Persian text; ``update`` copies them
into the fa catalogue (so several people can add strings without editing the same
.po at once). ``en`` is filled with the msgid itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
POT = HERE / "messages.pot"
LANGS = ("fa", "en")


def po_path(lang: str) -> Path:
    return HERE / lang / "LC_MESSAGES" / "messages.po"


def pybabel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True, cwd=ROOT)


def pending() -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted((HERE / "pending").glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def update() -> None:
    pybabel(
        "-q",
        "extract",
        "-F",
        "babel.cfg",
        "-k",
        "_l",
        "-k",
        "lazy_gettext",
        "--no-location",
        "--sort-output",
        "--project",
        "model-control-panel",
        "-o",
        str(POT),
        "webapp",
        "templates",
    )
    for lang in LANGS:
        if po_path(lang).exists():
            pybabel(
                "-q",
                "update",
                "--no-fuzzy-matching",
                "--ignore-obsolete",
                "-i",
                str(POT),
                "-d",
                str(HERE),
                "-l",
                lang,
            )
        else:
            pybabel("-q", "init", "-i", str(POT), "-d", str(HERE), "-l", lang)
    extra = pending()
    for lang in LANGS:
        with po_path(lang).open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        for message in catalog:
            if not message.id:
                continue
            key = message.id if isinstance(message.id, str) else message.id[0]
            if lang == "en":
                if isinstance(message.id, tuple):
                    message.string = tuple(message.id)
                else:
                    message.string = message.id
                message.flags.discard("fuzzy")
            elif key in extra:
                text = extra[key]
                if isinstance(message.id, tuple):
                    message.string = tuple([text] * catalog.num_plurals)
                else:
                    message.string = text
                message.flags.discard("fuzzy")
        with po_path(lang).open("wb") as fh:
            write_po(
                fh,
                catalog,
                width=100,
                omit_header=False,
                sort_output=True,
                include_previous=False,
                no_location=True,
            )


def missing(lang: str) -> list[str]:
    with po_path(lang).open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    bad = []
    for m in catalog:
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if m.fuzzy or not all(strings):
            bad.append(m.id if isinstance(m.id, str) else m.id[0])
    return bad


def check() -> int:
    status = 0
    for lang in LANGS:
        bad = missing(lang)
        for msgid in bad:
            print(f"{lang}: untranslated or fuzzy: {msgid}")
        status |= bool(bad)
    return status


def compile_all() -> None:
    pybabel("-q", "compile", "-d", str(HERE))


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "update":
        update()
    elif command == "check":
        sys.exit(check())
    elif command == "compile":
        compile_all()
    else:
        print(__doc__)
        sys.exit(2)
