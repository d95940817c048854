"""Configuration read from the environment, with embedded-mode defaults."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# Good enough for the embedded default on one machine; `pathways serve` refuses it otherwise.
DEVELOPMENT_SECRET = "dev-only-secret-change-me"


def _default_database_url() -> str:
    instance = Path(os.environ.get("PATHWAYS_INSTANCE_DIR", ROOT / "instance"))
    instance.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance / 'pathways.sqlite3'}"


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    """Settings for one Pathways process; every value can come from the environment."""

    def __init__(self, **overrides: object) -> None:
        env = os.environ
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            env.get("DATABASE_URL") or _default_database_url()
        )
        self.REDIS_URL = env.get("REDIS_URL") or None
        self.SECRET_KEY = env.get("SECRET_KEY", DEVELOPMENT_SECRET)
        # Behind HTTPS, session cookies are sent only over it.
        self.SESSION_COOKIE_SECURE = env.get("PATHWAYS_SECURE_COOKIES", "") == "1"
        # A council's own closure days (ISO dates, comma separated) on top of bank holidays.
        self.PATHWAYS_CLOSURE_DAYS = env.get("PATHWAYS_CLOSURE_DAYS", "")
        # How long a new API token lasts unless `token create --days` says otherwise.
        self.PATHWAYS_TOKEN_DAYS = int(env.get("PATHWAYS_TOKEN_DAYS", 90))
        # Uploads: one BPMN or DMN file larger than this is refused before parsing.
        self.PATHWAYS_MAX_FILE_BYTES = int(env.get("PATHWAYS_MAX_FILE_BYTES", 2 * 1024 * 1024))
        # The whole request may be larger (several files), but not unbounded.
        self.MAX_CONTENT_LENGTH = int(env.get("PATHWAYS_MAX_REQUEST_BYTES", 32 * 1024 * 1024))
        # Which team takes each pathway's new cases, week by week (see app/duty.py).
        self.PATHWAYS_DUTY_ROTAS = env.get("PATHWAYS_DUTY_ROTAS", "")
        # Timers: the RQ queue, how often workers sweep for lost jobs, when a started job
        # counts as abandoned, and how often the embedded server (no Redis) fires due timers.
        self.PATHWAYS_TIMER_QUEUE = env.get("PATHWAYS_TIMER_QUEUE", "pathways-timers")
        self.PATHWAYS_SWEEP_SECONDS = float(env.get("PATHWAYS_SWEEP_SECONDS", 30))
        self.PATHWAYS_SWEEP_STALE_SECONDS = float(env.get("PATHWAYS_SWEEP_STALE_SECONDS", 60))
        self.PATHWAYS_TIMER_RETRY_SECONDS = tuple(
            int(x) for x in env.get("PATHWAYS_TIMER_RETRY_SECONDS", "5,30,120,600").split(",") if x.strip()
        )
        self.PATHWAYS_EMBEDDED_TIMER_SECONDS = float(env.get("PATHWAYS_EMBEDDED_TIMER_SECONDS", 15))
        # `timers run-due --as-of` a future instant is for tests and simulations only.
        self.PATHWAYS_ALLOW_CLOCK_OVERRIDE = env.get("PATHWAYS_ALLOW_CLOCK_OVERRIDE") == "1"
        # Sign-in with the council's OpenID Connect provider (app/web/oidc.py): on when an
        # issuer or a discovery URL is set. Password sign-in can then be turned off. Empty
        # values (compose passes every variable) mean the default.
        self.PATHWAYS_OIDC_ISSUER = env.get("PATHWAYS_OIDC_ISSUER", "")
        self.PATHWAYS_OIDC_DISCOVERY_URL = env.get("PATHWAYS_OIDC_DISCOVERY_URL", "")
        self.PATHWAYS_OIDC_CLIENT_ID = env.get("PATHWAYS_OIDC_CLIENT_ID", "")
        self.PATHWAYS_OIDC_CLIENT_SECRET = env.get("PATHWAYS_OIDC_CLIENT_SECRET", "")
        self.PATHWAYS_OIDC_SCOPES = env.get("PATHWAYS_OIDC_SCOPES") or "openid profile email"
        self.PATHWAYS_OIDC_USERNAME_CLAIM = env.get("PATHWAYS_OIDC_USERNAME_CLAIM") or "preferred_username"
        self.PATHWAYS_OIDC_GROUPS_CLAIM = env.get("PATHWAYS_OIDC_GROUPS_CLAIM", "")
        self.PATHWAYS_OIDC_NAME = env.get("PATHWAYS_OIDC_NAME") or "your council account"
        self.PATHWAYS_OIDC_REDIRECT_URI = env.get("PATHWAYS_OIDC_REDIRECT_URI", "")
        self.PATHWAYS_PASSWORD_SIGN_IN = env.get("PATHWAYS_PASSWORD_SIGN_IN", "1") != "0"
        self.SQLALCHEMY_ENGINE_OPTIONS: dict[str, object] = {"pool_pre_ping": True}
        self.JSON_SORT_KEYS = False
        for key, value in overrides.items():
            setattr(self, key, value)

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in vars(self).items() if k.isupper()}
