"""REST API v1: JSON, camelCase, bearer tokens; see DESIGN.md for the contract."""
from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.exceptions import NotFound as NoRoute

from ..errors import BadRequest, Invalid, NotFound, PathwaysError

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# PostgreSQL text cannot hold NUL, so input carrying one is refused here, the same answer on
# either database, instead of failing in the database.
NUL = "\x00"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _refuse_nul(values: dict[str, Any], message: str) -> None:
    bad = {name: ["must not contain the NUL character"] for name, value in values.items()
           if _has_nul(name) or _has_nul(value)}
    if bad:
        raise Invalid(message, bad)


@bp.before_request
def _no_nul_in_path() -> None:
    # Nothing is named with a NUL, so such an id names nothing.
    if any(_has_nul(v) for v in (request.view_args or {}).values()):
        raise NotFound("nothing here has a name containing the NUL character")


@cache
def schema_for(schema: type[Schema], many: bool = False) -> Schema:
    """One instance per schema: building one copies every declared field, and they keep no
    state between calls, so each request need not build its own."""
    return schema(many=many)


def body(schema: type[Schema]) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        if request.content_length in (None, 0):
            data = {}
        else:
            raise BadRequest("the request body must be JSON (Content-Type: application/json)")
    if not isinstance(data, dict):
        raise Invalid("the request body must be a JSON object", {"body": ["must be an object"]})
    _refuse_nul(data, "some fields are invalid")
    try:
        return schema_for(schema).load(data)
    except ValidationError as exc:
        raise Invalid("some fields are missing or invalid", _messages(exc)) from None


def query(schema: type[Schema]) -> dict[str, Any]:
    args = request.args.to_dict()
    _refuse_nul(args, "some query parameters are invalid")
    try:
        return schema_for(schema).load(args)
    except ValidationError as exc:
        raise Invalid("some query parameters are invalid", _messages(exc)) from None


def _messages(exc: ValidationError) -> dict[str, Any]:
    return exc.messages if isinstance(exc.messages, dict) else {"body": exc.messages}


def engine():
    return current_app.extensions["pathways.engine"]


@bp.errorhandler(PathwaysError)
def pathways_error(exc: PathwaysError):
    return jsonify(exc.to_dict()), exc.status


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    code = (exc.name or "error").lower().replace(" ", "_")
    body = {"error": {"code": code, "message": exc.description or exc.name, "details": {}}}
    return jsonify(body), exc.code


@bp.app_errorhandler(NoRoute)
@bp.app_errorhandler(MethodNotAllowed)
def no_route(exc: HTTPException):
    # Routing fails before any blueprint is chosen (an unknown path, an id with a "/", a
    # method a path does not take): under /api/v1 the answer is still the JSON error.
    if request.path == bp.url_prefix or request.path.startswith(f"{bp.url_prefix}/"):
        allowed = getattr(exc, "valid_methods", None)
        return (*http_error(exc), {"Allow": ", ".join(sorted(allowed))} if allowed else {})
    return exc


from . import definitions, documents, instances, register, subject_access, tasks, tokens  # noqa: E402,F401  (routes register on bp)
