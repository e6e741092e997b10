"""A provider's base_url may not reach the panel's own network (PROVIDER_ALLOW_PRIVATE off):
refused when saved (API and dashboard) and again when connecting, so DNS rebinding and
rows saved before the rules do not get through. The loopback provider counts what arrives."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from tests.ai.fixtures import FAST_PROVIDER_SETTINGS
from tests.support import SHARED_KEY, csrf_token
from webapp.ai import calls, egress
from webapp.ai.egress import ProviderAddressRefused
from webapp.config import Config
from webapp.errors import ValidationError
from webapp.extensions import db as _db
from webapp.models import Provider
from webapp.operations import admins, catalog

API = "/api/v1/ai-providers"
PUBLIC_IP = "93.184.216.34"
PUBLIC_URL = "https://api.example.com/v1"

# Every form the security test used, and their relatives.
REFUSED_ADDRESSES = [
    "http://127.0.0.1:8000/v1",
    "http://localhost:8000/v1",
    "http://LOCALHOST./v1",
    "http://api.localhost/v1",
    "http://0x7f000001/v1",
    "http://2130706433/v1",
    "http://127.1/v1",
    "http://0177.0.0.1/v1",
    "http://[::1]/v1",
    "http://[::ffff:127.0.0.1]/v1",
    "http://[::ffff:169.254.169.254]/v1",
    "http://169.254.169.254/latest/meta-data",
    "http://10.1.2.3/v1",
    "http://172.16.0.1/v1",
    "http://192.168.1.10/v1",
    "http://100.64.0.1/v1",
    "http://[fd12:3456::1]/v1",
    "http://[fe80::1]/v1",
    "http://224.0.0.1/v1",
    "http://[ff02::1]/v1",
    "http://0.0.0.0/v1",
    "http://[::]/v1",
    "http://240.0.0.1/v1",
    "http://private.example.test/v1",  # resolves to 10.0.0.7 (see the fake resolver)
    "http://mixed.example.test/v1",  # one public and one loopback address
]
MALFORMED_ADDRESSES = [
    "https://user:secret@api.example.com/v1",
    "https://user@api.example.com/v1",
    "https://api.example.com/v1?x=1",
    "https://api.example.com/v1?",
    "https://api.example.com/v1#frag",
    "https://api.example.com/v1#",
    "https://api.example.com:99999/v1",
    "https://api.example.com:port/v1",
]
FAKE_DNS = {
    "api.example.com": [PUBLIC_IP],
    "private.example.test": ["10.0.0.7"],
    "mixed.example.test": [PUBLIC_IP, "127.0.0.1"],
    "localhost": ["127.0.0.1", "::1"],
}


@pytest.fixture
def dns(monkeypatch):
    """A resolver of our own: names in ``dns.names`` resolve, others do not."""

    class Resolver:
        names = dict(FAKE_DNS)
        asked: list[str] = []

        def __call__(self, host, port):
            self.asked.append(host)
            key = host.lower().rstrip(".")
            if key not in self.names:
                raise socket.gaierror(socket.EAI_NONAME, "not known")
            return list(self.names[key])

    resolver = Resolver()
    monkeypatch.setattr(egress, "resolve", resolver)
    return resolver


@pytest.fixture
def app(app_factory):
    app = app_factory(PROVIDER_ALLOW_PRIVATE=False, **FAST_PROVIDER_SETTINGS)
    with app.app_context():
        yield app
        _db.session.remove()


@pytest.fixture
def bearer(make_admin):
    _, token = admins.create_token(make_admin("admin"), "tests")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def public_provider(make_provider, dns):
    return make_provider(
        "acme",
        name="Acme",
        base_url=PUBLIC_URL,
        shared_api_enabled=True,
        shared_api_key=SHARED_KEY,
    )


def _row(slug="acme") -> Provider:
    _db.session.expire_all()
    return _db.session.query(Provider).filter_by(slug=slug).one()


def _persian(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


# --- the rules, alone ------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.1", "0x7f000001", "2130706433", "0177.0.0.1", "::1", "::ffff:127.0.0.1"],
)
def test_every_spelling_of_loopback_is_one_forbidden_address(host):
    ip = egress.literal_address(host)
    assert ip is not None and egress.is_forbidden(ip)


@pytest.mark.parametrize("host", ["8.8.8.8", "2606:4700:4700::1111", PUBLIC_IP])
def test_public_addresses_are_allowed(host):
    assert not egress.is_forbidden(egress.literal_address(host))


def test_origin_is_scheme_host_and_port():
    assert egress.origin("https://API.Example.com/v1") == "https://api.example.com:443"
    assert egress.origin("https://api.example.com:443/other") == "https://api.example.com:443"
    assert egress.origin("http://api.example.com/v1") == "http://api.example.com:80"
    assert egress.origin("http://[::1]:8000/v1") == "http://[::1]:8000"
    assert egress.origin("") == ""


def test_the_setting_follows_the_environment(monkeypatch):
    monkeypatch.delenv("PROVIDER_ALLOW_PRIVATE", raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    assert Config.from_env().PROVIDER_ALLOW_PRIVATE is False
    monkeypatch.setenv("APP_ENV", "development")
    assert Config.from_env().PROVIDER_ALLOW_PRIVATE is True
    monkeypatch.setenv("PROVIDER_ALLOW_PRIVATE", "0")
    assert Config.from_env().PROVIDER_ALLOW_PRIVATE is False
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("PROVIDER_ALLOW_PRIVATE", "1")
    assert Config.from_env().PROVIDER_ALLOW_PRIVATE is True


# --- saving: the JSON API ----------------------------------------------------------------


@pytest.mark.parametrize("url", REFUSED_ADDRESSES + MALFORMED_ADDRESSES)
def test_api_refuses_the_address_and_changes_nothing(client, bearer, public_provider, url):
    response = client.patch(f"{API}/acme/", json={"base_url": url}, headers=bearer)

    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["metaData"]["status"] == "error"
    assert _persian(body["errors"]["base_url"][0])
    row = _row()
    assert row.base_url == PUBLIC_URL
    assert row.has_shared_api_key


@pytest.mark.parametrize("url", REFUSED_ADDRESSES[:3] + MALFORMED_ADDRESSES[:3])
def test_api_refuses_a_new_provider_at_such_an_address(client, bearer, dns, url):
    response = client.post(
        f"{API}/", json={"slug": "evil", "name": "Evil", "base_url": url}, headers=bearer
    )
    assert response.status_code == 400
    assert _db.session.query(Provider).filter_by(slug="evil").count() == 0


@pytest.mark.parametrize("url", MALFORMED_ADDRESSES)
def test_user_info_query_and_fragment_are_refused_even_when_private_is_allowed(
    app_factory, make_admin, url
):
    app = app_factory(PROVIDER_ALLOW_PRIVATE=True)
    with app.app_context():
        _, token = admins.create_token(make_admin("admin"), "t")
        response = app.test_client().post(
            f"{API}/",
            json={"slug": "evil", "name": "Evil", "base_url": url},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 400
        assert _db.session.query(Provider).filter_by(slug="evil").count() == 0


def test_a_public_address_and_a_name_that_does_not_resolve_yet_are_accepted(
    client, bearer, public_provider, dns
):
    for url in (f"https://{PUBLIC_IP}/v1", "https://not-yet-in-dns.example.org/v1"):
        response = client.patch(f"{API}/acme/", json={"base_url": url}, headers=bearer)
        assert response.status_code == 200, response.get_json()
        assert _row().base_url == url


# --- saving: the dashboard ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest", "http://0x7f000001/v1", PUBLIC_URL + "?a=b"]
)
def test_dashboard_form_shows_the_error_and_changes_nothing(login_as, post, public_provider, url):
    client = login_as("admin")
    response = post(
        client,
        f"/providers/{public_provider.id}/edit",
        {
            "slug": "acme",
            "name": "Acme",
            "base_url": url,
            "is_enabled": "y",
            "shared_api_enabled": "y",
        },
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="base_url-error"' in body
    assert _row().base_url == PUBLIC_URL and _row().has_shared_api_key


# --- connecting --------------------------------------------------------------------------


def _point_at_fake(provider: Provider, fake_provider, host: str) -> None:
    """Write the address straight into the row, as an older release (or a rebinding name
    that looked public when saved) would have left it."""
    port = urlsplit(fake_provider.url).port
    provider.base_url = f"http://{host}:{port}/v1"
    _db.session.commit()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "0x7f000001", "2130706433", "127.1"])
def test_connect_time_refuses_loopback_and_sends_nothing(
    public_provider, make_model, fake_provider, dns, host
):
    make_model(public_provider, "gpt", caps=["chat"], active=True)
    _point_at_fake(public_provider, fake_provider, host)

    with pytest.raises(ProviderAddressRefused) as caught:
        calls.chat("acme", "hello")

    assert _persian(str(caught.value)) and "خصوصی" in str(caught.value)
    assert fake_provider.requests == []


def test_dns_rebinding_is_caught_when_connecting(
    client, bearer, public_provider, make_model, fake_provider, dns
):
    """The name resolves to a public address when saved, to loopback when called."""
    port = urlsplit(fake_provider.url).port
    dns.names["rebind.example.com"] = [PUBLIC_IP]
    response = client.patch(
        f"{API}/acme/",
        json={"base_url": f"http://rebind.example.com:{port}/v1", "shared_api_key": SHARED_KEY},
        headers=bearer,
    )
    assert response.status_code == 200
    make_model(public_provider, "gpt", caps=["chat"], active=True)

    dns.names["rebind.example.com"] = ["127.0.0.1"]
    with pytest.raises(ProviderAddressRefused):
        calls.chat("acme", "hello")
    check = calls.check_connection("acme")
    assert not check.ok and check.error_kind == "address_refused"
    assert fake_provider.requests == []


def test_test_connection_and_sync_pages_refuse_at_connect_time(
    login_as, public_provider, fake_provider, dns
):
    _point_at_fake(public_provider, fake_provider, "localhost")
    client = login_as("admin")
    token = csrf_token(client, "/playground")

    tested = client.post(
        "/providers/acme/test-connection",
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    synced = client.post(
        "/providers/acme/sync", data={"action": "fetch"}, headers={"X-CSRFToken": token}
    )

    assert 'data-error-kind="address_refused"' in tested.get_data(as_text=True)
    assert "data-sync-error" in synced.get_data(as_text=True)
    assert "خصوصی" in synced.get_data(as_text=True)
    assert fake_provider.requests == []


def test_the_guard_connects_to_the_vetted_address_and_keeps_the_host_name(
    public_provider, make_model, fake_provider, dns, monkeypatch
):
    """A name that passes is called at the address that was checked, with its own Host."""
    make_model(public_provider, "gpt", caps=["chat"], active=True, model_id="openai/gpt-4o")
    dns.names["provider.example.com"] = ["127.0.0.1"]
    _point_at_fake(public_provider, fake_provider, "provider.example.com")
    checked = []

    def only_our_loopback(ip):  # let the test server through, nothing else
        checked.append(str(ip))
        return str(ip) != "127.0.0.1"

    monkeypatch.setattr(egress, "is_forbidden", only_our_loopback)

    result = calls.chat("acme", "hello")

    assert result.text
    assert checked == ["127.0.0.1"]
    (seen,) = fake_provider.requests
    port = urlsplit(fake_provider.url).port
    assert seen.headers.get("Host") == f"provider.example.com:{port}"


def test_with_private_allowed_the_loopback_provider_is_called(
    app_factory, make_provider, make_model, fake_provider
):
    app = app_factory(PROVIDER_ALLOW_PRIVATE=True, **FAST_PROVIDER_SETTINGS)
    with app.app_context():
        p = make_provider(
            "local",
            base_url=fake_provider.url.replace("127.0.0.1", "localhost"),
            shared_api_enabled=True,
            shared_api_key=SHARED_KEY,
        )
        make_model(p, "gpt", caps=["chat"], active=True)
        assert calls.chat("local", "hello").text
        assert len(fake_provider.requests) == 1


def test_a_stored_address_with_user_info_is_never_called(
    public_provider, make_model, fake_provider
):
    make_model(public_provider, "gpt", caps=["chat"], active=True)
    port = urlsplit(fake_provider.url).port
    public_provider.base_url = f"http://u:p@127.0.0.1:{port}/v1"
    _db.session.commit()
    with pytest.raises(ProviderAddressRefused):
        calls.chat("acme", "hello")
    assert fake_provider.requests == []


def test_catalog_validation_is_the_same_for_every_way_in(app, dns):
    for url in REFUSED_ADDRESSES + MALFORMED_ADDRESSES:
        with pytest.raises(ValidationError) as caught:
            catalog.create_provider({"slug": "x", "name": "X", "base_url": url})
        assert caught.value.field == "base_url", url
    assert _db.session.query(Provider).count() == 0
