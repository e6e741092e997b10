"""The gateway's kept-alive connections to providers, against a loopback provider that
keeps connections open (as OpenAI's and OpenRouter's do; the suite's fake provider closes
each one, so these paths need a server of their own): one connection serves call after
call; one the provider closed while idle, one whose answer was not read to the end, and
one whose call was cancelled are never used again."""

from __future__ import annotations

import contextlib
import http.server
import json
import socketserver
import ssl
import threading
from datetime import UTC, datetime, timedelta

import pytest

from webapp.gateway import upstream

TIMEOUTS = upstream.Timeouts(connect=2.0, read=5.0)


class KeepAliveProvider(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tls: ssl.SSLContext | None = None):
        super().__init__(("127.0.0.1", 0), _Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.connections = 0
        self.close_after_answer = False
        self.cut_short = False
        self.closed = threading.Event()
        self.bodies: list[dict] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close_request(self, request):
        super().close_request(request)
        self.closed.set()  # the socket is closed, not only the handler finished

    def handle_error(self, request, client_address):
        pass  # a connection the gateway cut on purpose

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}/v1/chat/completions"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless a side says otherwise

    def setup(self):
        super().setup()
        self.server.connections += 1

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)
        answer = json.dumps({"n": len(self.server.bodies), "words": ["x"] * 2000}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        if self.server.cut_short:  # the provider dies in the middle of its answer
            self.wfile.write(answer[:100])
            self.close_connection = True
            return
        self.wfile.write(answer)
        # An idle timeout on the provider's side: closed, without saying so beforehand.
        self.close_connection = self.server.close_after_answer

    def log_message(self, *args):
        pass


@pytest.fixture
def provider():
    server = KeepAliveProvider()
    yield server
    server.shutdown()
    server.server_close()


def call(provider: KeepAliveProvider, n: int, exchange=None) -> upstream.Response:
    return upstream.send(
        provider.url,
        json.dumps({"call": n}).encode(),
        {"Content-Type": "application/json"},
        guarded=False,
        timeouts=TIMEOUTS,
        exchange=exchange or upstream.Exchange(),
    )


def test_one_connection_serves_call_after_call(provider):
    answers = [json.loads(call(provider, n).read()) for n in range(5)]
    assert [a["n"] for a in answers] == [1, 2, 3, 4, 5]
    assert provider.bodies == [{"call": n} for n in range(5)]
    assert provider.connections == 1


def test_a_connection_the_provider_closed_while_idle_is_not_used(provider):
    provider.close_after_answer = True
    assert json.loads(call(provider, 0).read())["n"] == 1
    assert provider.closed.wait(5)  # closed on the provider's side, unannounced

    assert json.loads(call(provider, 1).read())["n"] == 2  # not a broken call
    assert provider.connections == 2


def test_an_answer_not_read_to_the_end_does_not_go_back(provider):
    unread = call(provider, 0)
    assert unread.status_code == 200
    unread.close()  # the rest of the body is still on that connection
    assert json.loads(call(provider, 1).read())["n"] == 2
    assert provider.connections == 2


def test_a_cancelled_calls_connection_is_not_used_again(provider):
    exchange = upstream.Exchange()
    response = call(provider, 0, exchange)
    exchange.cancel()  # the client went away: its socket is cut
    with contextlib.suppress(upstream.UpstreamError):  # or read from what had arrived
        response.read()
    assert json.loads(call(provider, 1).read())["n"] == 2
    assert provider.connections == 2


def test_an_unreachable_provider_is_an_upstream_error():
    with socketserver.TCPServer(("127.0.0.1", 0), _Handler) as closed:
        port = closed.server_address[1]
    with pytest.raises(upstream.UpstreamError) as caught:
        upstream.send(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            b"{}",
            {},
            guarded=False,
            timeouts=TIMEOUTS,
            exchange=upstream.Exchange(),
        )
    assert not caught.value.timeout


def test_an_answer_cut_short_is_an_error_not_an_end(provider):
    provider.cut_short = True
    response = call(provider, 0)
    with pytest.raises(upstream.UpstreamError):
        b"".join(response.iter_raw())
    provider.cut_short = False
    assert json.loads(call(provider, 1).read())["n"] == 2
    assert provider.connections == 2


def test_a_relay_cancelled_mid_answer_ends_in_an_error(provider):
    """However much had arrived, a cancelled call's relay does not end as if complete
    (the meter would count it as answered)."""
    exchange = upstream.Exchange()
    response = call(provider, 0, exchange)
    chunks = response.iter_raw()
    next(chunks)
    exchange.cancel()
    with pytest.raises(upstream.UpstreamError):
        for _ in chunks:
            pass


def test_a_connection_idle_too_long_is_not_used(provider, monkeypatch):
    """A load balancer may drop an idle connection without a word: one idle for longer
    than ``IDLE_SECONDS`` is closed rather than trusted."""
    assert json.loads(call(provider, 0).read())["n"] == 1
    monkeypatch.setattr(upstream, "IDLE_SECONDS", 0.0)
    assert json.loads(call(provider, 1).read())["n"] == 2
    assert provider.connections == 2


@pytest.fixture
def tls_provider(tmp_path, monkeypatch):
    """The provider behind TLS, with a certificate for ``localhost`` only, from an
    authority the gateway's TLS context is made to trust (in place of certifi's)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert_file, key_file)
    monkeypatch.setattr(
        upstream, "tls_context", lambda: ssl.create_default_context(cafile=str(cert_file))
    )
    server = KeepAliveProvider(server_side)
    yield server
    server.shutdown()
    server.server_close()


def test_a_provider_over_tls_is_verified_and_kept_alive(tls_provider):
    localhost = tls_provider.url.replace("127.0.0.1", "localhost")
    for n in range(2):
        answer = upstream.send(
            localhost,
            json.dumps({"call": n}).encode(),
            {"Content-Type": "application/json"},
            guarded=False,
            timeouts=TIMEOUTS,
            exchange=upstream.Exchange(),
        )
        assert json.loads(answer.read())["n"] == n + 1
    assert tls_provider.connections == 1


def test_a_certificate_for_another_name_sends_nothing(tls_provider):
    """The certificate names ``localhost``; called as 127.0.0.1 the check fails before
    a byte of the request (or its key) is sent."""
    with pytest.raises(upstream.UpstreamError):
        call(tls_provider, 0)
    assert tls_provider.bodies == []
