"""Starting a signed-in session, the same for every way of signing in."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import session

from ..models import User


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this server, never another site."""
    parsed = urlparse(target or "")
    return target if target and not parsed.netloc and not parsed.scheme and target.startswith("/") else "/"


def begin_session(user: User) -> None:
    """A fresh session for ``user``, nothing carried over from before; it lasts until the
    user signs out or "sign out everywhere" raises their session epoch."""
    session.clear()
    session["user_id"], session["epoch"] = user.id, user.session_epoch
