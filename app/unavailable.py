"""When the database goes away mid-request (a restart, a failover): a plain 503 — the API's
JSON error, or a page saying so — rather than a 500, and no request left holding a dead
connection."""
from __future__ import annotations

from flask import Flask, current_app, g, jsonify, render_template, request
from sqlalchemy import exc as sa_exc

from .extensions import db
from .services.transaction import COMMITTED

DISCONNECTS = (sa_exc.OperationalError, sa_exc.InterfaceError)


def init_app(app: Flask) -> None:
    app.register_error_handler(sa_exc.OperationalError, database_unavailable)
    app.register_error_handler(sa_exc.InterfaceError, database_unavailable)
    # Registered after Flask-SQLAlchemy's own teardown, so it runs before it.
    app.teardown_appcontext(release_session)


def database_unavailable(exc: Exception):
    current_app.logger.warning("database unavailable: %s", exc)
    # The action may have committed before the connection dropped (reading back its answer).
    saved = db.session.info.get(COMMITTED, False)
    if request.blueprint == "api" or request.path.startswith("/api/"):
        message = ("the change was saved, but the database became unavailable before the answer was read; "
                   "reload to see it" if saved else
                   "the database is unavailable; nothing was changed, try again shortly")
        return jsonify({"error": {"code": "unavailable", "message": message, "details": {"saved": saved}}}), 503
    # The page's header counts the user's tasks, which needs the database.
    g.pop("user", None)
    return render_template("web/unavailable.html", saved=saved), 503


def release_session(_exc: BaseException | None) -> None:
    """End the request's session. Its rollback fails when the server closed the connection;
    SQLAlchemy has already invalidated it, and the answer already given stands."""
    try:
        db.session.remove()
    except DISCONNECTS as exc:
        current_app.logger.warning("database connection lost at the end of a request: %s", exc)
        db.session.registry.clear()
