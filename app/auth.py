"""Who is calling: bearer tokens for the API, and the role and group checks every
endpoint uses."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timezone
from functools import wraps
from typing import Callable

import sqlalchemy as sa
from flask import g, request

from .errors import Forbidden, Unauthorized
from .extensions import db
from .models import ApiToken, AuditEvent, User

ROLES = ("staff", "manager", "process-owner", "integrator", "admin")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(user: User) -> str:
    """Create a token for ``user``; only its hash is stored, so show it once."""
    token = "pw_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), created_at=datetime.now(timezone.utc)))
    return token


def user_from_request() -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an API token as 'Authorization: Bearer <token>'")
    row = db.session.execute(
        sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token.strip()), ApiToken.revoked_at.is_(None))
    ).scalar_one_or_none()
    if row is None:
        raise Unauthorized("the API token is not valid")
    return row.user


def current_user() -> User:
    return g.user


def authenticated(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        g.user = user_from_request()
        return view(*args, **kwargs)

    return wrapper


def deny(user: User, action: str, instance_id: str | None = None, task_id: str | None = None) -> Forbidden:
    """Record a refused attempt and return the error to raise.

    The audit row is written in its own transaction so the refusal is kept even though
    the request's transaction is rolled back.
    """
    with db.engine.begin() as conn:
        conn.execute(sa.insert(AuditEvent).values(
            instance_id=instance_id,
            task_id=task_id,
            at=datetime.now(timezone.utc),
            type="access_denied",
            user=user.id,
            details={"action": action},
        ))
    return Forbidden(f"you may not {action}")


def require_role(user: User, *roles: str, action: str) -> None:
    if not any(user.has_role(r) for r in roles):
        raise deny(user, action)
