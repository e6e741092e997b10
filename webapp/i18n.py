"""Language choice (Persian by default, English on request, remembered) and
template helpers for right-to-left text."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import Flask, Response, current_app, g, has_request_context, request, session
from flask_babel import get_locale

LANGUAGES = ("fa", "en")
API_LANGUAGES = LANGUAGES
RTL = {"fa"}
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
# Persian and Arabic-Indic digits, as people type them, to ASCII.
ASCII_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def select_locale() -> str:
    if not has_request_context():
        return "fa"
    if request.path.startswith("/v1/"):  # the gateway: a program, not a browser
        return api_locale()
    lang = request.args.get("lang")
    if lang not in LANGUAGES:
        lang = session.get("lang") or request.cookies.get(current_app.config["LANG_COOKIE_NAME"])
    return lang if lang in LANGUAGES else "fa"


def api_locale() -> str:
    """The language of the API and the gateway: Persian (the contract) unless
    ``Accept-Language`` prefers English.

    The dashboard's language cookie, session and ``?lang=`` are ignored: a program gets
    the same language on every call whatever a browser chose. Read once per request.
    """
    locale = g.get("api_locale")
    if locale is None:
        if "Accept-Language" not in request.headers:  # most programs send none
            locale = "fa"
        else:
            locale = request.accept_languages.best_match(API_LANGUAGES, default="fa") or "fa"
        g.api_locale = locale
    return locale


def remember_language(response: Response, lang: str, max_age: int) -> None:
    """The long-lived language cookie; in production ``__Host-lang``, Secure, like the
    session's (the name and the flag come from the configuration)."""
    config = current_app.config
    response.set_cookie(
        config["LANG_COOKIE_NAME"],
        lang,
        max_age=max_age,
        samesite="Lax",
        httponly=True,
        path="/",
        secure=bool(config["SESSION_COOKIE_SECURE"]),
    )


def current_lang() -> str:
    locale = get_locale()
    return locale.language if locale else "fa"


def text_direction() -> str:
    return "rtl" if current_lang() in RTL else "ltr"


def local_digits(value: object) -> str:
    """Persian digits when the page is Persian; ASCII otherwise."""
    text = str(value)
    return text.translate(PERSIAN_DIGITS) if current_lang() == "fa" else text


def labeller(labels: Mapping[str, object]) -> Callable[[str], str]:
    """The words for a fixed identifier (a role, a capability, a status): its entry in
    ``labels``, translated now, or the identifier itself when it has none."""

    def label(key: str) -> str:
        return str(labels.get(key, key))

    return label


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(text_direction=text_direction, current_lang=current_lang)
    app.jinja_env.filters["digits"] = local_digits
