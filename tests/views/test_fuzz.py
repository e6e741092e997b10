"""Random ids and query strings against the dashboard's GET pages, as a superadmin:
whatever arrives (NUL, lone surrogates, huge numbers, Persian and look-alike digits,
days at the ends of the calendar, htmx headers), the answer is never a 5xx.

Bounded and derandomised (``MAX_EXAMPLES`` per page). Runs on PostgreSQL when the
suite does (``TEST_DATABASE_URL``), where NUL and out-of-range integers used to fail.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import fuzz_settings

MAX_EXAMPLES = 30

PAGES = [
    "/",
    "/models",
    "/models/new",
    "/models/preview",
    "/models/{id}/edit",
    "/models/{id}/delete",
    "/providers",
    "/providers/new",
    "/providers/{id}/edit",
    "/providers/{id}/delete",
    "/providers/{slug}/sync",
    "/keys",
    "/tokens",
    "/tokens/{id}/revoke",
    "/admins",
    "/admins/new",
    "/admins/{id}/edit",
    "/history",
    "/playground",
    "/playground/plan",
]
KNOWN_PARAMETERS = [
    "q",
    "provider",
    "capability",
    "capabilities",
    "model",
    "activate",
    "page",
    "action",
    "actor",
    "target_type",
    "date_from",
    "date_to",
    "lang",
    "next",
    "status",
]

nasty_text = st.text(
    alphabet=st.one_of(
        st.characters(codec=None),  # any code point, lone surrogates included
        st.sampled_from("\x00\u202e\u2066\u200c۰۱۲۳۴۵۶۷۸۹²³¹%&=?#/"),
    ),
    max_size=30,
)
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["2147483647", "2147483648", "9223372036854775808", "0", "-0", "1e3"]),
    st.text(alphabet="0123456789۰۱۲۳۴۵۶۷۸۹٠١٢²³¹", min_size=1, max_size=25),
)
days = st.sampled_from(
    ["9999-12-31", "0001-01-01", "1403/12/30", "۱۴۰۳/۰۵/۰۱", "0000-00-00", "1403/13/40"]
)
values = st.one_of(
    nasty_text, numbers, days, st.sampled_from(["chat", "true", "1", "\x00", "a\x00b", "\ud800"])
)
keys = st.one_of(st.sampled_from(KNOWN_PARAMETERS), nasty_text)
headers = st.fixed_dictionaries(
    {},
    optional={
        "HX-Request": st.just("true"),
        "HX-Target": st.sampled_from(["model-results", "nope", ""]),
        "HX-Current-URL": values.map(lambda v: "http://localhost/models?q=" + quote_all(v)),
    },
)


def quote_all(value: str) -> str:
    return quote(value, safe="", errors="surrogatepass")


@pytest.fixture
def superadmin(login_as, make_provider, make_model):
    provider = make_provider("openrouter")
    make_model(provider, "gpt-4o", caps=["chat", "code"], active=True)
    make_model(provider, "claude", caps=["chat"])
    return login_as("superadmin")


@pytest.mark.parametrize("page", PAGES)
def test_no_page_answers_5xx(page, superadmin):
    @given(
        ident=numbers,
        slug=st.one_of(nasty_text.filter(lambda s: s.strip("/")), st.just("openrouter")),
        params=st.lists(st.tuples(keys, values), max_size=5),
        extra=headers,
    )
    @fuzz_settings(MAX_EXAMPLES)
    def fuzz(ident, slug, params, extra):
        path = page.format(id=quote_all(ident), slug=quote_all(slug))
        query = "&".join(f"{quote_all(k)}={quote_all(v)}" for k, v in params)
        url = f"{path}?{query}" if query else path
        response = superadmin.get(
            url,
            headers={
                k: v.encode("utf-8", "surrogatepass").decode("latin-1") for k, v in extra.items()
            },
        )
        assert response.status_code < 500, (url, extra, response.get_data(as_text=True)[:300])
        response.get_data().decode("utf-8")

    fuzz()
