"""Who a council identity provider's sign-in is in Pathways.

The provider says who the person is; Pathways decides what they may do. A verified ID
token is matched to a local user (by the subject stored at their first sign-in, otherwise
by username), never creates one, and never changes roles: admin and every other role stay
local. Groups stay local too unless the council asks the provider to send them.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from ..errors import Forbidden
from ..extensions import db
from ..models import User
from .projection import audit


class NotSetUp(Forbidden):
    """The provider vouched for someone Pathways has no account for."""

    code = "not_set_up"


class Locked(Forbidden):
    code = "locked"

    def __init__(self, minutes: int):
        super().__init__(f"the account is locked for {minutes} more minute{'s' if minutes != 1 else ''}",
                         {"minutes": minutes})
        self.minutes = minutes


def locked_minutes(user: User, at: datetime) -> int | None:
    """Whole minutes (rounded up) the account stays locked after a run of wrong passwords."""
    if user.locked_until is None or user.locked_until <= at:
        return None
    return max(1, int((user.locked_until - at).total_seconds() // 60) + 1)


def claim_groups(value: object) -> list[str]:
    """A groups claim as a list of group codes: a list of strings, or one string."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return sorted({v for v in value if isinstance(v, str) and v})
    return []


def oidc_user(subject: str, username: str | None, groups: list[str] | None, at: datetime) -> User:
    """The local user a verified ID token names, signed in; the caller commits.

    ``groups`` is None when groups stay local; otherwise it replaces the user's groups.
    Raises NotSetUp (no such user, or the username belongs to another subject, which the
    audit records) and Locked (the account is locked, as it would be for a password).
    """
    user = db.session.execute(sa.select(User).where(User.oidc_subject == subject)).scalar_one_or_none()
    if user is None and username:
        candidate = db.session.get(User, username)
        # A username already linked to another subject is not this person's account.
        if candidate is not None and candidate.oidc_subject is None:
            user = candidate
    if user is None:
        audit(None, "sign_in_refused", None, method="oidc", subject=subject, username=username,
              reason="not_set_up")
        raise NotSetUp("your account is not set up in Pathways")
    minutes = locked_minutes(user, at)
    if minutes is not None:
        raise Locked(minutes)
    details: dict[str, object] = {"method": "oidc", "subject": subject}
    if user.oidc_subject is None:
        user.oidc_subject = subject
        details["linked"] = True
    if groups is not None and sorted(user.groups) != groups:
        details["groups"] = {"from": sorted(user.groups), "to": groups}
        user.groups = groups
    user.failed_sign_ins, user.locked_until = 0, None
    audit(None, "signed_in", user.id, **details)
    return user
