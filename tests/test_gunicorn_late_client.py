"""gunicorn with the project's configuration answers a client that sends its request
late (a loaded machine, a slow network). gunicorn's gthread worker gives a new
connection 5 s for its first bytes, then parks it for ``keepalive`` seconds: at 0 such a
client was dropped unanswered (found by the 200-stream test under CI's load)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

import pytest

from tests import support
from tests.servers import free_port

pytestmark = pytest.mark.slow
LATE = 6.0  # past gunicorn's 5 s wait for a new connection's first bytes


def test_a_client_that_sends_its_request_late_is_still_answered(app):
    port = free_port()
    env = support.gunicorn_env(app, port, 1)
    server = support.start_gunicorn(["-c", "python:webapp.gunicorn_conf", "wsgi:app"], env)
    try:
        base = f"http://127.0.0.1:{port}"
        support.wait_until_ready(base, server, 30, lambda: support.exited_output(server))
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            time.sleep(LATE)
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = client.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200"), answer
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
