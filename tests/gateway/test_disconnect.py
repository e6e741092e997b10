"""A client that goes away ends the upstream call, in every phase: while waiting for a
plain answer, before the first streamed chunk, and mid-stream. Orphaned upstream calls hold
a provider slot and pile up when users retry (LiteLLM issues #37140, PR #31499, #30245)."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

from tests.ai.fake_provider import Reply

HI = [{"role": "user", "content": "سلام"}]
QUICKLY = 2.0  # seconds within which the provider must see its request end


def send_raw(base_url: str, token: str, body: dict) -> socket.socket:
    """A client that sends one request and will hang up when the test says."""
    parts = urlsplit(base_url)
    payload = json.dumps(body).encode()
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\n"
        + f"Host: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n".encode()
        + f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    return sock


def hang_up(sock: socket.socket) -> float:
    sock.close()
    return time.monotonic()


def test_hanging_up_while_waiting_for_a_plain_answer(
    base_url, role_token, catalogue, fake_provider, usage_rows
):
    fake_provider.script("POST", "/chat/completions", Reply(delay=10.0))
    _, token = role_token()
    client = send_raw(base_url, token, {"model": "openrouter", "messages": HI})
    upstream = fake_provider.wait_for_request("/chat/completions")
    assert upstream.is_open

    left = hang_up(client)

    assert fake_provider.wait_ended(upstream, QUICKLY)
    assert upstream.cancelled
    assert time.monotonic() - left < QUICKLY
    (row,) = usage_rows()
    assert row.outcome == "cancelled"


def test_hanging_up_before_the_first_chunk(
    base_url, role_token, catalogue, fake_provider, usage_rows
):
    fake_provider.script("POST", "/chat/completions", Reply(first_delay=10.0))
    _, token = role_token()
    client = send_raw(base_url, token, {"model": "openrouter", "messages": HI, "stream": True})
    upstream = fake_provider.wait_for_request("/chat/completions")
    time.sleep(0.2)  # the provider's headers are in: the relay is waiting for a chunk

    hang_up(client)

    assert fake_provider.wait_ended(upstream, QUICKLY)
    assert upstream.cancelled and upstream.chunks_sent == 0
    (row,) = usage_rows()
    assert row.outcome == "cancelled"
    assert row.first_chunk_ms is None


def test_hanging_up_mid_stream(sdk, catalogue, fake_provider, usage_rows):
    pieces = [f" {i}" for i in range(40)]
    fake_provider.script("POST", "/chat/completions", Reply(chunks=pieces, chunk_delay=0.1))

    stream = sdk().chat.completions.create(model="openrouter", messages=HI, stream=True)
    got = 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            got += 1
            if got == 3:
                break
    stream.close()
    upstream = fake_provider.seen("/chat/completions")[0]

    assert fake_provider.wait_ended(upstream, QUICKLY)
    assert upstream.cancelled
    assert upstream.chunks_sent < len(pieces)
    (row,) = usage_rows()
    assert row.outcome == "cancelled"
    assert row.first_chunk_ms is not None


def test_a_finished_call_leaves_nothing_open(sdk, catalogue, fake_provider):
    client = sdk()
    client.chat.completions.create(model="openrouter", messages=HI)
    list(client.chat.completions.create(model="openrouter", messages=HI, stream=True))
    time.sleep(0.1)
    assert fake_provider.open_requests() == []
    assert not any(seen.cancelled for seen in fake_provider.seen())
