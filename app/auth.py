"""Who is calling: bearer tokens for the API, and the role and group checks every
endpoint uses."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import wraps
from typing import Callable

import sqlalchemy as sa
from flask import current_app, g, request

from .errors import Forbidden, Unauthorized
from .extensions import db
from .models import ApiToken, AuditEvent, User
from .services import tokens
from .services.tokens import hash_token

ROLES = ("staff", "manager", "process-owner", "integrator", "admin")


def issue_token(user: User, days: int | None = None, role: str | None = None, by: str | None = None) -> str:
    """Create a token for ``user`` lasting ``days`` (default PATHWAYS_TOKEN_DAYS); only its
    hash is stored, so show it once."""
    return tokens.issue(user, current_app.config["PATHWAYS_TOKEN_DAYS"] if days is None else days, role, by)[1]


# Built once: every API request sends it (see projection._locking_statements).
_TOKEN = sa.select(ApiToken).where(ApiToken.token_hash == sa.bindparam("token_hash", type_=sa.String))


def user_from_request() -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>'")
    row = db.session.execute(_TOKEN, {"token_hash": hash_token(token.strip())}).scalar_one_or_none()
    if row is None:
        raise Unauthorized("the API token is not valid")
    if row.revoked_at is not None:
        raise Unauthorized(f"the API token was revoked on {row.revoked_at:%Y-%m-%d %H:%M} UTC; ask for a new one",
                           {"token": ["revoked"]})
    if row.expires_at is not None and row.expires_at <= datetime.now(timezone.utc):
        raise Unauthorized(f"the API token expired on {row.expires_at:%Y-%m-%d %H:%M} UTC; ask for a new one",
                           {"token": ["expired"]})
    user = row.user
    user.token_role = row.role
    return user


def current_user() -> User:
    return g.user


def authenticated(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        g.user = user_from_request()
        return view(*args, **kwargs)

    return wrapper


def deny(user: User, action: str, instance_id: str | None = None, task_id: str | None = None,
         child_id: str | None = None) -> Forbidden:
    """Record a refused attempt and return the error to raise."""
    record_refusal(user, {"action": action}, instance_id=instance_id, task_id=task_id, child_id=child_id)
    return Forbidden(f"you may not {action}")


def record_refusal(user: User, details: dict, *, instance_id: str | None = None, task_id: str | None = None,
                   child_id: str | None = None) -> None:
    """An `access_denied` audit row, written in its own transaction so the refusal is kept
    even though the request's transaction is rolled back."""
    with db.engine.begin() as conn:
        conn.execute(sa.insert(AuditEvent).values(
            instance_id=instance_id,
            task_id=task_id,
            child_id=child_id,
            at=datetime.now(timezone.utc),
            type="access_denied",
            user=user.id,
            details=details,
        ))


def require_role(user: User, *roles: str, action: str, child_id: str | None = None) -> None:
    if not any(user.has_role(r) for r in roles):
        raise deny(user, action, child_id=child_id)
