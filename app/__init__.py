"""Pathways: BPMN process automation for children's social care."""
from __future__ import annotations

import functools
from typing import Any

from flask import Flask, jsonify, request
from sqlalchemy import event
from werkzeug.exceptions import RequestEntityTooLarge

from . import json_columns
from .calendar import WorkingCalendar, parse_closures
from .config import Config
from .duty import parse_rotas
from .engine import DecisionEvaluator, Engine
from .extensions import db
from .timer_queue import TimerQueue


def create_app(config: Config | dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    settings = config if isinstance(config, Config) else Config(**(config or {}))
    app.config.from_mapping(settings.as_dict())

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Writers queue for the database lock instead of failing at once.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"], **json_columns.ENGINE_OPTIONS}
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)

    calendar = WorkingCalendar(parse_closures(app.config["PATHWAYS_CLOSURE_DAYS"]))
    engine = Engine(calendar)
    app.extensions["pathways.calendar"] = calendar
    app.extensions["pathways.engine"] = engine
    decisions = DecisionEvaluator(_decision_source, _register_facts, _latest_decision_hash)
    engine.decisions = decisions
    app.extensions["pathways.decisions"] = decisions
    app.extensions["pathways.duty_rotas"] = parse_rotas(app.config["PATHWAYS_DUTY_ROTAS"])
    app.extensions["pathways.timer_queue"] = (
        TimerQueue(app.config["REDIS_URL"], app.config["PATHWAYS_TIMER_QUEUE"],
                   app.config["PATHWAYS_SWEEP_STALE_SECONDS"], app.config["PATHWAYS_TIMER_RETRY_SECONDS"])
        if app.config["REDIS_URL"] else None
    )

    from . import unavailable
    from .api import bp as api_bp
    from .web import init_app as init_web

    app.register_blueprint(api_bp)
    init_web(app, api_bp)
    unavailable.init_app(app)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        limit = app.config["MAX_CONTENT_LENGTH"]
        return jsonify({"error": {
            "code": "too_large",
            "message": f"the request is larger than the limit of {limit:,} bytes; nothing was stored",
            "details": {"limit": limit, "path": request.path},
        }}), 413

    return app


def _decision_source(key: str, content_hash: str | None) -> tuple[str, str] | None:
    """A deployed decision's (content hash, DMN source): that version, or the latest.
    Engine calls run inside an app context."""
    import sqlalchemy as sa

    from .models import DecisionDefinition

    query = sa.select(DecisionDefinition.content_hash, DecisionDefinition.source_xml).where(
        DecisionDefinition.key == key)
    if content_hash is not None:
        query = query.where(DecisionDefinition.content_hash == content_hash)
    row = db.session.execute(query.order_by(DecisionDefinition.version.desc()).limit(1)).first()
    return tuple(row) if row else None


def _latest_decision_hash(key: str) -> str | None:
    """The content hash of decision ``key``'s newest deployed version, or None."""
    return db.session.execute(_latest_decision_hash_statement(), {"key": key}).scalar()


@functools.cache
def _latest_decision_hash_statement():
    # Built once: every decision a step evaluates sends it (see projection._locking_statements).
    import sqlalchemy as sa

    from .models import DecisionDefinition

    return (sa.select(DecisionDefinition.content_hash)
            .where(DecisionDefinition.key == sa.bindparam("key", type_=sa.String))
            .order_by(DecisionDefinition.version.desc()).limit(1))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the inbox read while a task completes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _register_facts(variables: dict) -> dict:
    """Decision inputs the case register answers for the child in ``variables["childId"]``."""
    from .engine.clock import operation_instant
    from .services.register import decision_facts

    # Inside a process step, as of that step's instant; for the evaluate API, the engine clock.
    return decision_facts(variables.get("childId"), operation_instant(), variables.get("familyId"))
