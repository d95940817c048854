"""API tokens: issued for a user with an expiry and optionally one of the user's roles,
listed without their secrets, revoked by id or by the token itself. Only a hash of each
token is stored, so a token is shown once, when it is issued."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models import ApiToken, User
from .projection import audit

PREFIX = "pw_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(user: User, days: int, role: str | None, by: str | None, at: datetime | None = None
          ) -> tuple[ApiToken, str]:
    """A new token for ``user`` lasting ``days``: the row and the token (the only time it is
    seen). ``role`` must be one the user holds (an admin holds them all); the token then
    acts in that role only. Every new token expires; only tokens issued before expiry
    existed have none.
    Raises Invalid for a role the user does not hold or a non-positive number of days.
    """
    from ..auth import ROLES

    at = at or datetime.now(timezone.utc)
    if role is not None and (role not in ROLES or not user.has_role(role)):
        raise Invalid(f"{user.id} does not hold the role {role!r}; a token can carry only one of the user's "
                      f"roles ({', '.join(user.roles) or 'none'})", {"role": ["not one of the user's roles"]})
    if days < 1:
        raise Invalid("a token lasts at least one day", {"days": ["must be 1 or more"]})
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=hash_token(token), created_at=at, role=role,
                   expires_at=at + timedelta(days=days))
    db.session.add(row)
    db.session.flush()
    audit(None, "token_issued", by, tokenId=row.id, owner=user.id, role=role,
          expiresAt=row.expires_at.isoformat())
    return row, token


def of_user(user_id: str) -> list[ApiToken]:
    """A user's tokens, newest first. Raises NotFound for an unknown user."""
    if db.session.get(User, user_id) is None:
        raise NotFound(f"no user {user_id}")
    return list(db.session.execute(
        sa.select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).scalars())


def find(id_or_token: str) -> ApiToken:
    """A token by its id, or by the token itself. Raises NotFound."""
    text = id_or_token.strip()
    if text.startswith(PREFIX):
        row = db.session.execute(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(text))).scalar_one_or_none()
    else:
        row = db.session.get(ApiToken, int(text)) if text.isdigit() else None
    if row is None:
        raise NotFound("no such API token" if text.startswith(PREFIX) else f"no API token {text}")
    return row


def revoke(row: ApiToken, by: str | None, at: datetime | None = None) -> ApiToken:
    """Revoke a token from now on. Raises Conflict when it was revoked already."""
    if row.revoked_at is not None:
        raise Conflict(f"API token {row.id} was revoked already, on {row.revoked_at.isoformat()}")
    row.revoked_at = at or datetime.now(timezone.utc)
    row.revoked_by = by
    audit(None, "token_revoked", by, tokenId=row.id, owner=row.user_id)
    return row


def status(row: ApiToken, at: datetime | None = None) -> str:
    at = at or datetime.now(timezone.utc)
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= at:
        return "expired"
    return "active"
