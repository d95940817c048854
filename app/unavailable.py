"""When the database goes away mid-request (a restart, a failover): a plain 503 — the API's
JSON error, or a page saying so — rather than a 500, and no request left holding a dead
connection."""
from __future__ import annotations

from flask import Flask, current_app, g, jsonify, render_template, request
from sqlalchemy import exc as sa_exc

from .extensions import db

DISCONNECTS = (sa_exc.OperationalError, sa_exc.InterfaceError)


def init_app(app: Flask) -> None:
    app.register_error_handler(sa_exc.OperationalError, database_unavailable)
    app.register_error_handler(sa_exc.InterfaceError, database_unavailable)
    # Registered after Flask-SQLAlchemy's own teardown, so it runs before it.
    app.teardown_appcontext(release_session)


def database_unavailable(exc: Exception):
    current_app.logger.warning("database unavailable: %s", exc)
    if request.blueprint == "api" or request.path.startswith("/api/"):
        return jsonify({"error": {"code": "unavailable",
                                  "message": "the database is unavailable; nothing was changed, try again shortly",
                                  "details": {}}}), 503
    # The page's header counts the user's tasks, which needs the database.
    g.pop("user", None)
    return render_template("web/unavailable.html"), 503


def release_session(_exc: BaseException | None) -> None:
    """End the request's session. Its rollback fails when the server closed the connection;
    SQLAlchemy has already invalidated it, and the answer already given stands."""
    try:
        db.session.remove()
    except DISCONNECTS as exc:
        current_app.logger.warning("database connection lost at the end of a request: %s", exc)
        db.session.registry.clear()
