"""A small OpenAI-compatible provider on loopback, for tests and for trying the playground.

In tests (fixture ``fake_provider`` in ``tests/ai/conftest.py``)::

    fake_provider.url                      # http://127.0.0.1:<port>/v1, a provider's base_url
    fake_provider.script("POST", "/chat/completions", Reply(429), Reply(200))  # one per request
    fake_provider.always("POST", "/chat/completions", Reply(500))
    fake_provider.requests                 # every request: method, path, headers, json
    fake_provider.wait_ended(seen)         # until that request's answer ended (sent or cut)
    fake_provider.open_requests()          # requests still being answered

Streaming: a chat request with ``"stream": true`` is answered with server-sent events, one
per word of the answer (``Reply(chunks=[...])`` to choose them), ``Reply(chunk_delay=s)``
between chunks (``first_delay`` before the first one; the headers go out at once, as
OpenAI's do), a usage chunk when ``stream_options.include_usage`` is set, then
``data: [DONE]``. A client that goes away while a request is being answered (during a
delay or between chunks) marks it ``cancelled``: tests use it to check that an upstream
call really ended.

By hand (a demo provider's base URL → http://127.0.0.1:8001/v1)::

    python -m tests.ai.fake_provider --port 8001

Werkzeug's server closes every connection after its answer; real providers keep them
open for the next call. Where that matters (the gateway's benchmarks), serve the same
answers from a server that keeps connections alive::

    gunicorn -k gthread --threads 64 --keep-alive 60 -b :8001 'tests.ai.fake_provider:app()'

Unscripted requests get a plausible answer: the chat reply names the model it was asked
for, images come as a tiny PNG (base64), embeddings are three numbers per input, and
``/models`` lists a few models. The server is threaded: slow answers do not hold up others.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import select
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
    chunks: list[str] | None = None  # a streamed chat's pieces (default: the answer's words)
    chunk_delay: float = 0.0  # seconds between streamed chunks
    first_delay: float = 0.0  # seconds before the first streamed chunk (headers go at once)
    # A streamed chat sends its first piece, then waits for this (at most HOLD_LIMIT s): a
    # load test opens it once every stream it started is open, however slow the ramp was.
    hold: threading.Event | None = None


HOLD_LIMIT = 60.0


@dataclass(eq=False)
class Seen:
    method: str
    path: str
    headers: dict
    json: object
    ended: threading.Event = field(default_factory=threading.Event, repr=False)
    cancelled: bool = False  # the client went away before the answer was complete
    chunks_sent: int = 0
    at: float = field(default_factory=time.monotonic)  # when it arrived

    @property
    def authorization(self) -> str | None:
        return self.headers.get("Authorization")

    @property
    def is_open(self) -> bool:
        return not self.ended.is_set()


class FakeProvider:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        models: list | None = None,
        *,
        serve: bool = True,
    ):
        self.models = list(DEFAULT_MODELS if models is None else models)
        self.requests: list[Seen] = []
        self._scripts: dict[tuple[str, str], deque[Reply]] = {}
        self._always: dict[tuple[str, str], Reply] = {}
        self._lock = threading.Lock()
        if not serve:  # the WSGI application alone (``app``)
            return
        self._server = make_server(host, port, self._wsgi, threaded=True)
        self._server.socket.listen(1024)  # hundreds of concurrent streams in load tests
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

    def open_requests(self) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.is_open]

    def wait_ended(self, seen: Seen, timeout: float = 5.0) -> bool:
        """True once ``seen``'s answer was complete or cut short by the client."""
        return seen.ended.wait(timeout)

    def wait_for_request(self, path: str, timeout: float = 5.0) -> Seen:
        """The first request to ``path``, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.seen(path)
            if found:
                return found[0]
            time.sleep(0.005)
        raise AssertionError(f"no request to {path} within {timeout}s")

    # --- the server ------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        path = request.path[len(PREFIX) :] if request.path.startswith(PREFIX) else request.path
        body = request.get_json(silent=True)
        seen = Seen(request.method, path, dict(request.headers), body)
        with self._lock:
            self.requests.append(seen)
            queue = self._scripts.get((request.method, path))
            reply = queue.popleft() if queue else self._always.get((request.method, path))
        reply = reply or Reply()
        client = environ.get("werkzeug.socket")
        if reply.delay and not _wait_unless_gone(client, reply.delay):
            seen.cancelled = True
            seen.ended.set()
            return Response(b"", 499)(environ, start_response)
        streamed = (
            (request.method, path) == ("POST", "/chat/completions")
            and isinstance(body, dict)
            and body.get("stream") is True
            and reply.status < 400
            and reply.body is None
            and reply.raw is None
        )
        if streamed:
            return self._stream(seen, body, reply, client)(environ, start_response)
        seen.ended.set()
        return self._respond(request.method, path, body, reply)(environ, start_response)

    def _stream(self, seen: Seen, body: dict, reply: Reply, client) -> Response:
        model = body.get("model", "")
        pieces = reply.chunks if reply.chunks is not None else _words(f"سلام از {model}")
        include_usage = (body.get("stream_options") or {}).get("include_usage") is True

        def event(payload: dict) -> bytes:
            return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"

        def chunk(delta: dict, finish: str | None = None) -> bytes:
            return event(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
            )

        def generate():
            complete = False
            try:
                yield b""  # the headers go out now; the first chunk may take a while
                if reply.first_delay and not _wait_unless_gone(client, reply.first_delay):
                    return
                yield chunk({"role": "assistant", "content": ""})
                for i, piece in enumerate(pieces):
                    if i and reply.chunk_delay and not _wait_unless_gone(client, reply.chunk_delay):
                        return
                    yield chunk({"content": piece})
                    seen.chunks_sent += 1
                    if not i and reply.hold and not _held(client, reply.hold):
                        return
                yield chunk({}, "stop")
                if include_usage:
                    n = len(pieces)
                    yield event(
                        {
                            "id": "chatcmpl-fake",
                            "object": "chat.completion.chunk",
                            "model": model,
                            "choices": [],
                            "usage": {
                                "prompt_tokens": 5,
                                "completion_tokens": n,
                                "total_tokens": 5 + n,
                            },
                        }
                    )
                yield b"data: [DONE]\n\n"
                complete = True
            finally:
                seen.cancelled = not complete
                seen.ended.set()

        return Response(generate(), reply.status, reply.headers, mimetype="text/event-stream")

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
        if (method, path) == ("POST", "/embeddings"):
            inputs = body.get("input", "")
            inputs = inputs if isinstance(inputs, list) else [inputs]
            return status, {
                "object": "list",
                "model": body.get("model", ""),
                "data": [
                    {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
                    for i in range(len(inputs))
                ],
                "usage": {"prompt_tokens": 2 * len(inputs), "total_tokens": 2 * len(inputs)},
            }
        if (method, path) == ("POST", "/images/generations"):
            return status, {"created": int(time.time()), "data": [{"b64_json": TINY_PNG}]}
        return 404, {"error": {"message": "not found"}}


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def _client_gone(client: socket.socket | None) -> bool:
    """The peer closed its end (a readable socket with nothing to read)."""
    if client is None:
        return False
    try:
        readable, _, _ = select.select([client], [], [], 0)
        if not readable:
            return False
        return client.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):
        return True


def _wait_unless_gone(client: socket.socket | None, seconds: float) -> bool:
    """Sleep ``seconds``, watching the client; False as soon as it went away."""
    deadline = time.monotonic() + seconds
    while True:
        if _client_gone(client):
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        time.sleep(min(left, 0.01))


def _held(client: socket.socket | None, gate: threading.Event) -> bool:
    """Wait until ``gate`` opens (or HOLD_LIMIT passes); False as soon as the client went
    away."""
    deadline = time.monotonic() + HOLD_LIMIT
    while not gate.wait(0.01):
        if _client_gone(client):
            return False
        if time.monotonic() > deadline:
            break
    return True


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app():
    """The answers as a WSGI application, for another server (see the module)."""
    return FakeProvider(serve=False)._wsgi


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
