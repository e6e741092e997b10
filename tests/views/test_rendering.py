"""What the pages show: Persian only (ids, slugs, names and URLs aside, isolated left to
right), and never a key in full — only its hint."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.html_tree import VOID
from tests.support import shared_key_on, text
from webapp.operations import activation, admins

SHARED_KEY = "sk-shared-SECRET-aaaa1111"
PERSONAL_KEY = "sk-personal-SECRET-bbbb2222"
# Latin words the Persian catalogue itself keeps (DESIGN.md §4 uses "Provider+Capability").
# «بردارسازی (Embedding)» names the capability the way the providers' documents do.
ALLOWED = {"API", "Provider", "Capability", "slug", "HTTP", "IP", "AI", "English", "Embedding"}
CHECKED_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")


class LatinFinder(HTMLParser):
    """Collects Latin words in text and labels, skipping what is isolated as Latin on purpose:
    <bdi>, dir="ltr", lang="en", <code>, and what screen readers and people never see.
    With ``persian=True`` it collects Persian words instead (for the English pages), skipping
    <bdi> (names people typed) and lang="fa"."""

    def __init__(self, persian: bool = False):
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []
        self.found: list[str] = []
        self.persian = persian

    def _skipped(self) -> bool:
        return any(self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        skip = (
            tag in ("bdi", "code", "script", "style", "title", "time")
            or (not self.persian and attrs.get("dir") == "ltr")
            or (tag == "option" and attrs.get("dir") == "auto")  # a name, isolated
            or attrs.get("lang") == ("fa" if self.persian else "en")
            or attrs.get("aria-hidden") == "true"
        )
        if not self._skipped() and not skip:
            for name in CHECKED_ATTRIBUTES:
                if attrs.get(name):
                    self._check(attrs[name])
            if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
                self._check(attrs["value"])
        if tag not in VOID:
            self.stack.append(skip)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self._skipped():
            self._check(data)

    def _check(self, value: str):
        if self.persian:
            self.found += [
                f"{w!r} in {value.strip()[:80]!r}" for w in re.findall(r"[\u0600-\u06ff]+", value)
            ]
            return
        # URLs and identifiers (open-router, api.example.com) are examples, not prose.
        value = re.sub(r"https?://\S+|\b[a-z0-9]+(?:[-.][a-z0-9]+)+\b", " ", value)
        for word in re.findall(r"[A-Za-z]{2,}", value):
            if word not in ALLOWED:
                self.found.append(f"{word!r} in {value.strip()[:80]!r}")


def latin_words(body: str) -> list[str]:
    finder = LatinFinder()
    finder.feed(body)
    return finder.found


def persian_words(body: str) -> list[str]:
    finder = LatinFinder(persian=True)
    finder.feed(body)
    return finder.found


@pytest.fixture
def full_world(login_as, make_provider, make_model, post):
    """A superadmin client and data on every page: keys, a token, a revoked token,
    activations that deactivated something, another admin."""
    client = login_as("superadmin")
    p = make_provider(
        "openrouter",
        name="OpenRouter",
        base_url="https://openrouter.ai/api/v1",
        **shared_key_on(SHARED_KEY),
    )
    make_provider("openai", name="OpenAI", is_enabled=False)
    make_model(p, "gpt-4o", caps=["chat", "vision"], active=True, display_name="GPT-4o")
    claude = make_model(p, "claude", caps=["chat"], display_name="Claude 3.5")
    activation.activate(claude, actor=client.admin)
    activation.deactivate(claude, actor=client.admin)
    admins.save_provider_settings(client.admin, p, personal_api_key=PERSONAL_KEY)
    token, _ = admins.create_token(client.admin, "ci")
    old, _ = admins.create_token(client.admin, "old")
    admins.revoke_token(old, actor=client.admin)
    other = admins.create_admin("reza", "good-pass-42", "operator", actor=client.admin)
    admins.update_admin(other, password="newer-pass-43", actor=client.admin)
    admins.update_admin(other, is_enabled=False, actor=client.admin)
    ids = {"p": p.id, "t": token.id, "a": other.id}
    return client, ids


PAGES = [
    "/providers",
    "/providers/new",
    "/providers/{p}/edit",
    "/providers/{p}/delete",
    "/keys",
    "/tokens",
    "/tokens/{t}/revoke",
    "/admins",
    "/admins/new",
    "/admins/{a}/edit",
    "/history",
    "/history?date_from=bad",
]
BAD_POSTS = [
    ("/providers/new", {"slug": "Bad Slug", "name": "", "base_url": "ftp://x"}),
    ("/providers/{p}/shared-key", {"key-shared_api_key": "has space"}),
    ("/keys/{p}", {"p{p}-personal_api_key": "has space"}),
    ("/tokens", {"name": "n" * 200}),
    ("/admins/new", {"username": "", "role": "x", "password": "weak"}),
    ("/admins/{a}/edit", {"display_name": "", "role": "nope"}),
    ("/admins/{a}/password", {"reset-password": "short"}),
]


def responses(client, ids, post, lang: str | None = None):
    for page in PAGES:
        url = page.format(**ids)
        if lang:
            url += ("&" if "?" in url else "?") + f"lang={lang}"
        response = client.get(url)
        yield url, response
    for url, data in BAD_POSTS:
        url = url.format(**ids)
        response = post(client, url, {k.format(**ids): v for k, v in data.items()})
        assert response.status_code == 400, url
        yield f"POST {url}", response
    created = post(client, "/tokens", {"name": "fresh"})
    yield "POST /tokens", created


def test_persian_pages_leave_no_english_behind(full_world, post):
    client, ids = full_world
    problems = {}
    for url, response in responses(client, ids, post):
        assert response.status_code in (200, 201, 400), url
        found = latin_words(text(response))
        if found:
            problems[url] = found
    assert problems == {}, "\n".join(f"{url}: {words}" for url, words in problems.items())


def test_english_pages_leave_no_persian_behind(full_world, post):
    client, ids = full_world
    client.get("/providers?lang=en")  # the choice is remembered for the session
    problems = {}
    for url, response in responses(client, ids, post, lang="en"):
        found = persian_words(text(response))
        if found:
            problems[url] = found
    assert problems == {}, "\n".join(f"{url}: {words}" for url, words in problems.items())


def test_the_finder_does_catch_english():
    assert latin_words("<p>Save the key</p>") != []
    assert latin_words('<input placeholder="Search">') != []
    assert latin_words('<p>ذخیره <bdi dir="ltr">gpt-4o</bdi></p>') == []
    assert latin_words("<p>مثلاً https://api.example.com/v1 یا open-router</p>") == []
    assert persian_words("<p>Saved <bdi>سارا</bdi></p>") == []
    assert persian_words("<p>ذخیره</p>") != []


def test_keys_are_never_rendered_in_full(full_world, post):
    client, ids = full_world
    for url, response in responses(client, ids, post):
        body = text(response)
        assert SHARED_KEY not in body, url
        assert PERSONAL_KEY not in body, url
        assert "SECRET" not in body, url
    keys_page = text(client.get("/keys"))
    assert "…2222" in keys_page
    assert "…1111" in text(client.get("/providers"))


def test_english_pages_are_left_to_right(full_world):
    client, _ = full_world
    body = text(client.get("/providers?lang=en"))
    assert '<html lang="en" dir="ltr">' in body
    assert "Providers" in body and "Shared key allowed" in body


def test_no_inline_script_or_style(full_world, post):
    client, ids = full_world
    for url, response in responses(client, ids, post):
        body = text(response)
        main = body[body.find("<main") : body.find("</main>")]
        assert "style=" not in main, url
        assert "<script" not in main, url
        assert not re.search(r"\son[a-z]+=", main), url
