"""gunicorn settings: ``gunicorn -c python:webapp.gunicorn_conf wsgi:app``.

Every value can be overridden from the environment (see docs/DEPLOY.md).
"""

import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(multiprocessing.cpu_count() * 2 + 1, 8)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"  # I/O-bound: provider calls and the database wait, threads overlap
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
max_requests = 2000  # recycle workers now and then, against slow leaks
max_requests_jitter = 200
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
