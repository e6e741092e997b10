"""Configuration read from the environment (DESIGN.md §7).

The embedded default needs no setting at all: SQLite under ``instance/`` and an
in-process cache. Production sets ``APP_ENV=production`` and must then provide
``SECRET_KEY`` and ``FERNET_KEYS`` (see :meth:`Config.check`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
DEV_SECRET_KEY = "dev-only-secret-key-change-me"


def _normalise_database_url(url: str) -> str:
    """A plain ``postgresql://`` (or ``postgres://``) URL uses psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


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
    SECRET_KEY: str = DEV_SECRET_KEY
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
    # The gateway (/v1): how long a provider may take to answer (between two streamed
    # chunks, or in all for a plain answer), and the largest request body (inline images).
    GATEWAY_TIMEOUT: float = 300.0
    GATEWAY_MAX_BODY: int = 32 * 1024 * 1024
    RATELIMIT_ENABLED: bool = True
    CACHE_KEY_PREFIX: str = "mcp:"
    LOGIN_RATE_LIMIT: str = "10 per minute"
    TRUSTED_PROXIES: int = 0
    PASSWORD_HASH_METHOD: str = "scrypt"

    @classmethod
    def from_env(cls, **overrides) -> Config:
        env = os.environ
        app_env = env.get("APP_ENV", "development").strip() or "development"
        database_url = env.get("DATABASE_URL", "").strip() or (
            "sqlite:///" + str(INSTANCE_DIR / "panel.db")
        )
        cfg = cls(
            SECRET_KEY=env.get("SECRET_KEY", "").strip() or DEV_SECRET_KEY,
            SQLALCHEMY_DATABASE_URI=_normalise_database_url(database_url),
            FERNET_KEYS=env.get("FERNET_KEYS", "").strip(),
            CACHE_URL=env.get("CACHE_URL", "").strip(),
            ACTIVE_MODEL_CACHE_TTL=_int_env("ACTIVE_MODEL_CACHE_TTL", 300),
            APP_ENV=app_env,
            TRUSTED_PROXIES=_int_env("TRUSTED_PROXIES", 0),
            GATEWAY_TIMEOUT=_int_env("GATEWAY_TIMEOUT", 300),
            CACHE_KEY_PREFIX=env.get("CACHE_KEY_PREFIX", "").strip() or "mcp:",
        )
        if app_env == "production":
            cfg.SESSION_COOKIE_SECURE = True
            cfg.REMEMBER_COOKIE_SECURE = True
        for key, value in overrides.items():
            setattr(cfg, key, value)
        if cfg.SQLALCHEMY_DATABASE_URI:
            cfg.SQLALCHEMY_DATABASE_URI = _normalise_database_url(cfg.SQLALCHEMY_DATABASE_URI)
        return cfg

    def check(self) -> None:
        """Refuse to run in production with development secrets."""
        if self.APP_ENV != "production":
            return
        missing = []
        if not os.environ.get("SECRET_KEY") or self.SECRET_KEY == DEV_SECRET_KEY:
            missing.append("SECRET_KEY")
        if not self.FERNET_KEYS:
            missing.append("FERNET_KEYS")
        if missing:
            raise RuntimeError("APP_ENV=production needs " + " and ".join(missing) + " to be set")

    def as_mapping(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}
