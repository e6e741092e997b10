"""A small OpenAI-compatible provider on loopback, for tests and for trying the playground.

In tests (fixture ``fake_provider`` in ``tests/ai/conftest.py``)::

    fake_provider.url                      # http://127.0.0.1:<port>/v1, a provider's base_url
    fake_provider.script("POST", "/chat/completions", Reply(429), Reply(200))  # one per request
    fake_provider.always("POST", "/chat/completions", Reply(500))
    fake_provider.requests                 # every request: method, path, headers, json

By hand (a demo provider's base URL → http://127.0.0.1:8001/v1)::

    python -m tests.ai.fake_provider --port 8001

Unscripted requests get a plausible answer: the chat reply names the model it was asked
for, images come as a tiny PNG (base64), and ``/models`` lists a few models.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

PREFIX = "/v1"
# A 1×1 transparent PNG.
TINY_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhf"
    "DwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

DEFAULT_MODELS = [
    {
        "id": "openai/gpt-4o",
        "name": "OpenAI: GPT-4o",
        "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]},
    },
    {
        "id": "google/gemini-2.5-flash-image",
        "name": "Google: Gemini 2.5 Flash Image",
        "architecture": {
            "input_modalities": ["text", "image"],
            "output_modalities": ["image", "text"],
        },
    },
    {"id": "dall-e-3", "object": "model"},
    {"id": "text-embedding-3-small", "object": "model"},
    {"id": "whisper-1", "object": "model"},
    {"id": "tts-1", "object": "model"},
    {"id": "local-chat", "object": "model"},
]


@dataclass
class Reply:
    """One scripted answer. ``body`` None: the default answer for the path."""

    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow provider)
    raw: bytes | None = None  # send these bytes as-is (a malformed answer)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict
    json: object

    @property
    def authorization(self) -> str | None:
        return self.headers.get("Authorization")


class FakeProvider:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, models: list | None = None):
        self.models = list(DEFAULT_MODELS if models is None else models)
        self.requests: list[Seen] = []
        self._scripts: dict[tuple[str, str], deque[Reply]] = {}
        self._always: dict[tuple[str, str], Reply] = {}
        self._lock = threading.Lock()
        self._server = make_server(host, port, self._wsgi, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}{PREFIX}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- control ---------------------------------------------------------------------

    def start(self) -> FakeProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, method: str, path: str, *replies: Reply) -> None:
        """The next requests to ``method path`` get ``replies`` in order, then the default."""
        with self._lock:
            self._scripts.setdefault((method, path), deque()).extend(replies)

    def always(self, method: str, path: str, reply: Reply) -> None:
        with self._lock:
            self._always[(method, path)] = reply

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._scripts.clear()
            self._always.clear()

    def seen(self, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    # --- the server ------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        path = request.path[len(PREFIX) :] if request.path.startswith(PREFIX) else request.path
        body = request.get_json(silent=True)
        with self._lock:
            self.requests.append(Seen(request.method, path, dict(request.headers), body))
            queue = self._scripts.get((request.method, path))
            reply = queue.popleft() if queue else self._always.get((request.method, path))
        reply = reply or Reply()
        if reply.delay:
            time.sleep(reply.delay)
        return self._respond(request.method, path, body, reply)(environ, start_response)

    def _respond(self, method: str, path: str, body, reply: Reply) -> Response:
        if reply.raw is not None:
            return Response(reply.raw, reply.status, reply.headers, content_type="application/json")
        status, payload = reply.status, reply.body
        if payload is None:
            status, payload = self._default(method, path, body or {}, status)
        return Response(
            json.dumps(payload, ensure_ascii=False),
            status,
            reply.headers,
            content_type="application/json",
        )

    def _default(self, method: str, path: str, body: dict, status: int) -> tuple[int, object]:
        if status >= 400:
            return status, {"error": {"message": f"fake error {status}", "code": status}}
        if (method, path) == ("GET", "/models"):
            return status, {"object": "list", "data": self.models}
        if (method, path) == ("POST", "/chat/completions"):
            model = body.get("model", "")
            return status, {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"سلام از {model}"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
            }
        if (method, path) == ("POST", "/images/generations"):
            return status, {"created": int(time.time()), "data": [{"b64_json": TINY_PNG}]}
        return 404, {"error": {"message": "not found"}}


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    server = FakeProvider(args.host, args.port)
    print(f"fake OpenAI-compatible provider on {server.url} (Ctrl+C stops it)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server._server.serve_forever()


if __name__ == "__main__":
    main()
