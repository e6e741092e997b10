"""Configuration read from the environment (docs/CONTRACTS.md §7).

The embedded default needs no setting at all: SQLite under ``instance/``, an
in-process cache, and a secret key and a Fernet key generated into ``instance/``
on the first run (mode 0600) and reused after. Production sets
``APP_ENV=production`` and must then provide a strong ``SECRET_KEY`` and valid
``FERNET_KEYS`` (see :meth:`Config.check`); any other ``APP_ENV`` is refused.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
# The key older versions used when none was set: refused in production, never used.
DEV_SECRET_KEY = "dev-only-secret-key-change-me"
APP_ENVS = ("development", "production")
MIN_SECRET_KEY_LENGTH = 32
SESSION_COOKIE = "session"
REMEMBER_COOKIE = "remember_token"
LANG_COOKIE = "lang"
# Browsers keep a __Host- cookie only if it is Secure, has Path=/ and no Domain: no
# other site on the domain (a sibling subdomain, a plain-http page) can set or shadow it.
HOST_PREFIX = "__Host-"


class ConfigError(RuntimeError):
    """A setting the application refuses to start with."""


def _app_env(raw: str) -> str:
    value = raw.strip() or "development"
    if value not in APP_ENVS:
        raise ConfigError(f"APP_ENV must be 'development' or 'production', got {raw!r}")
    return value


def _check_fernet_keys(raw: str) -> None:
    for position, key in enumerate(raw.split(","), start=1):
        try:
            Fernet(key.strip().encode())
        except ValueError:
            raise ConfigError(
                f"FERNET_KEYS: key {position} is not a valid Fernet key (32 url-safe "
                "base64-encoded bytes; make one with "
                "python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from None


def instance_secret(name: str, make) -> str:
    """The secret kept in ``instance/<name>``, made by ``make()`` on first use.

    Written to a private temporary file (mode 0600) and linked into place, so two
    processes starting at once agree on one value and nobody reads half a file.
    """
    path = INSTANCE_DIR / name
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        temp = INSTANCE_DIR / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make() + "\n")
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another process won the race: use its value
        finally:
            temp.unlink()
    value = path.read_text().strip()
    if not value:
        raise ConfigError(f"{path} is empty: delete it to have a new one generated")
    return value


def is_loopback(host: str) -> bool:
    host = (host or "").strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name, or "" / 0.0.0.0: every interface


def exposure_warning(app_env: str, host: str) -> str | None:
    """The start-up warning for a development server reachable from the network."""
    if app_env == "production" or is_loopback(host):
        return None
    return (
        f"APP_ENV=development while listening on {host or 'every interface'}: "
        "development settings are not meant for a network; set APP_ENV=production "
        "(with SECRET_KEY and FERNET_KEYS) or listen on 127.0.0.1"
    )


def _normalise_database_url(url: str) -> str:
    """A plain ``postgresql://`` (or ``postgres://``) URL uses psycopg 3."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


def _bool_env(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return default if not raw else raw in ("1", "true", "yes", "on")


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a whole number, got {raw!r}") from exc


@dataclass
class Config:
    SECRET_KEY: str = ""
    SQLALCHEMY_DATABASE_URI: str = ""
    SQLALCHEMY_ENGINE_OPTIONS: dict = field(default_factory=dict)
    FERNET_KEYS: str = ""
    CACHE_URL: str = ""
    ACTIVE_MODEL_CACHE_TTL: int = 300
    APP_ENV: str = "development"
    TESTING: bool = False
    WTF_CSRF_TIME_LIMIT: int | None = None
    BABEL_DEFAULT_LOCALE: str = "fa"
    BABEL_DEFAULT_TIMEZONE: str = "Asia/Tehran"
    LANGUAGES: tuple[str, ...] = ("fa", "en")
    MAX_CONTENT_LENGTH: int = 256 * 1024
    SESSION_COOKIE_NAME: str = SESSION_COOKIE
    REMEMBER_COOKIE_NAME: str = REMEMBER_COOKIE
    LANG_COOKIE_NAME: str = LANG_COOKIE
    SESSION_COOKIE_HTTPONLY: bool = True
    SESSION_COOKIE_SAMESITE: str = "Lax"
    SESSION_COOKIE_SECURE: bool = False
    REMEMBER_COOKIE_HTTPONLY: bool = True
    REMEMBER_COOKIE_SAMESITE: str = "Lax"
    REMEMBER_COOKIE_SECURE: bool = False
    PERMANENT_SESSION_LIFETIME: int = 8 * 3600
    PROVIDER_TIMEOUT: float = 20.0
    # AI provider calls (webapp/ai/client.py): connect timeout, retries on 429/5xx,
    # the first back-off in seconds (doubled each retry), the longest Retry-After honoured.
    PROVIDER_CONNECT_TIMEOUT: float = 5.0
    PROVIDER_MAX_RETRIES: int = 2
    PROVIDER_RETRY_BACKOFF: float = 0.5
    PROVIDER_RETRY_AFTER_MAX: float = 10.0
    # May a provider's base_url reach loopback, private or link-local addresses?
    PROVIDER_ALLOW_PRIVATE: bool = False
    # The gateway (/v1): how long a provider may take to answer (between two streamed
    # chunks, or in all for a plain answer), and the largest request body (inline images).
    GATEWAY_TIMEOUT: float = 300.0
    GATEWAY_MAX_BODY: int = 32 * 1024 * 1024
    RATELIMIT_ENABLED: bool = True
    CACHE_KEY_PREFIX: str = "mcp:"
    LOGIN_RATE_LIMIT: str = "10 per minute"
    # Failed sign-ins per username (any address, any case); the steps are the back-off.
    LOGIN_USER_RATE_LIMIT: str = "5 per minute;20 per hour;100 per day"
    # Remember-me: a server-side record, revocable, never longer than 30 days.
    REMEMBER_COOKIE_DURATION: timedelta = timedelta(days=30)
    TRUSTED_PROXIES: int = 0
    PASSWORD_HASH_METHOD: str = "scrypt"
    # Raw metered calls older than this are deleted by `usage prune` (rollups are kept).
    USAGE_RAW_RETENTION_DAYS: int = 30

    @classmethod
    def from_env(cls, **overrides) -> Config:
        env = os.environ
        app_env = _app_env(str(overrides.get("APP_ENV", env.get("APP_ENV", ""))))
        database_url = env.get("DATABASE_URL", "").strip() or (
            "sqlite:///" + str(INSTANCE_DIR / "panel.db")
        )
        cfg = cls(
            SECRET_KEY=env.get("SECRET_KEY", "").strip(),
            SQLALCHEMY_DATABASE_URI=database_url,
            FERNET_KEYS=env.get("FERNET_KEYS", "").strip(),
            CACHE_URL=env.get("CACHE_URL", "").strip(),
            ACTIVE_MODEL_CACHE_TTL=_int_env("ACTIVE_MODEL_CACHE_TTL", 300),
            APP_ENV=app_env,
            TRUSTED_PROXIES=_int_env("TRUSTED_PROXIES", 0),
            GATEWAY_TIMEOUT=_int_env("GATEWAY_TIMEOUT", 300),
            USAGE_RAW_RETENTION_DAYS=_int_env("USAGE_RAW_RETENTION_DAYS", 30),
            CACHE_KEY_PREFIX=env.get("CACHE_KEY_PREFIX", "").strip() or "mcp:",
            PROVIDER_ALLOW_PRIVATE=_bool_env("PROVIDER_ALLOW_PRIVATE", app_env == "development"),
        )
        if app_env == "production":
            cfg.SESSION_COOKIE_SECURE = True
            cfg.REMEMBER_COOKIE_SECURE = True
            cfg.SESSION_COOKIE_NAME = HOST_PREFIX + SESSION_COOKIE
            cfg.REMEMBER_COOKIE_NAME = HOST_PREFIX + REMEMBER_COOKIE
            cfg.LANG_COOKIE_NAME = HOST_PREFIX + LANG_COOKIE
        for key, value in overrides.items():
            setattr(cfg, key, value)
        if app_env == "development":
            # Never a secret written in the source: one of this installation's own.
            if not cfg.SECRET_KEY:
                cfg.SECRET_KEY = instance_secret("secret_key", lambda: secrets.token_urlsafe(48))
            if not cfg.FERNET_KEYS:
                cfg.FERNET_KEYS = instance_secret(
                    "fernet_key", lambda: Fernet.generate_key().decode()
                )
        cfg.SQLALCHEMY_DATABASE_URI = _normalise_database_url(cfg.SQLALCHEMY_DATABASE_URI)
        return cfg

    def check(self) -> None:
        """Refuse to start with settings that cannot work or are unsafe: an unknown
        APP_ENV, a malformed FERNET_KEYS, and in production missing or weak secrets."""
        _app_env(self.APP_ENV)
        if self.APP_ENV == "production":
            missing = [name for name in ("SECRET_KEY", "FERNET_KEYS") if not getattr(self, name)]
            if missing:
                raise ConfigError(
                    "APP_ENV=production needs " + " and ".join(missing) + " to be set"
                )
            if len(self.SECRET_KEY) < MIN_SECRET_KEY_LENGTH or self.SECRET_KEY == DEV_SECRET_KEY:
                raise ConfigError(
                    f"SECRET_KEY is too weak for production: use at least "
                    f"{MIN_SECRET_KEY_LENGTH} random characters (python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))')"
                )
        if self.FERNET_KEYS:
            _check_fernet_keys(self.FERNET_KEYS)

    def as_mapping(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}
