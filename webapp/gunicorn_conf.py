"""gunicorn settings: ``gunicorn -c python:webapp.gunicorn_conf wsgi:app``.

Every value can be overridden from the environment (see docs/DEPLOY.md).

Worker model: ``gthread`` with many threads. A gateway stream spends minutes waiting on
the provider; a thread waits without using the CPU, and psycopg and the HTTP clients
block cleanly in threads (no monkey-patching as with gevent). 4 workers x 64 threads
hold 200 concurrent streams with room left for the dashboard. A worker accepts no more
clients than it has threads (``worker_connections``, keep-alive off), so a burst spreads
over the workers instead of waiting behind one worker's busy threads.
"""

import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(multiprocessing.cpu_count() * 2 + 1, 8)))
threads = int(os.environ.get("GUNICORN_THREADS", "64"))
worker_class = "gthread"  # I/O-bound: provider calls and the database wait, threads overlap
# A worker takes no more clients than it has threads: an extra one would wait behind a
# stream that may last minutes, while another worker has a thread free.
worker_connections = threads
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))  # streams past it are cut
# Keep-alive stays off: with ``worker_connections`` equal to the threads there is no slot
# for an idle kept-alive client, so every answer closes its connection (gunicorn says so
# once at start: "No keepalived connections can be handled"). The reverse proxy in front
# keeps the clients' connections; its own to gunicorn are cheap (loopback). The value is
# not 0 because gunicorn (27+) also parks a new connection whose request has not arrived
# within 5 s for this many seconds: at 0 a client slow to send (a loaded machine, a slow
# network) was dropped unanswered.
keepalive = 5
# Recycle workers now and then, against slow leaks, but rarely: a new worker imports the
# application and compiles its templates (about 1.7 s of CPU), which at 2,000 requests
# cost each request more than answering it did on the hot paths.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "50000"))
max_requests_jitter = max_requests // 10
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
# The proxy in front sets X-Forwarded-*; trust it only from where it runs.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Not preloaded: each worker opens its own database and Redis connections after fork.
preload_app = False


def when_ready(server) -> None:
    """Say loudly when development settings listen on more than loopback."""
    from webapp.config import exposure_warning

    app_env = os.environ.get("APP_ENV", "").strip() or "development"
    for address in server.cfg.bind:
        if address.startswith(("unix:", "fd://")):
            continue
        host = address.rsplit(":", 1)[0] if ":" in address else address
        warning = exposure_warning(app_env, host)
        if warning:
            server.log.warning(warning)


def worker_exit(server, worker) -> None:
    """Write the usage rows still buffered before the worker goes (clean shutdown)."""
    from webapp.metering import flush_all

    flush_all()


def post_worker_init(worker) -> None:
    """Compile every template before the worker takes its first request: compiling the
    models page's templates takes seconds in a worker whose threads are busy relaying
    streams, and the first operator to open the page should not pay for it."""
    app = worker.wsgi
    env = getattr(app, "jinja_env", None)
    if env is None:
        return
    for name in env.list_templates(extensions=("html",)):
        env.get_template(name)
