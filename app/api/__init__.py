"""REST API v1: JSON, camelCase, bearer tokens; see DESIGN.md for the contract."""
from __future__ import annotations

import json
from functools import cache
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.exceptions import NotFound as NoRoute

from ..errors import BadRequest, Invalid, NotFound, PathwaysError
from ..extensions import db

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# PostgreSQL text cannot hold NUL, and neither database a lone UTF-16 surrogate (JSON's
# "\ud800" alone), so input carrying one is refused here, the same answer on either database,
# instead of failing in the database.
NUL = "\x00"
# Deeper than any form's answers go (a list of children is 3 levels): refused before anything
# walks it, where Python's own limit would otherwise end the request with a 500.
MAX_DEPTH = 32


def _has_nul(value: Any) -> bool:
    return _text_problem(value) is not None


def _text_problem(value: Any) -> str | None:
    """Why ``value`` (JSON) cannot be stored, or None; walked without recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(f"the request body is nested more than {MAX_DEPTH} levels deep")
        if isinstance(item, str):
            if NUL in item:
                return "must not contain the NUL character"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "must not contain a lone UTF-16 surrogate (such as \\ud800 without its pair)"
        elif isinstance(item, dict):
            pending += [(k, depth + 1) for k in item] + [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            pending += [(v, depth + 1) for v in item]
    return None


def _refuse_nul(values: dict[str, Any], message: str) -> None:
    bad = {name: [problem] for name, value in values.items()
           if (problem := _text_problem(name) or _text_problem(value))}
    if bad:
        raise Invalid(message, {str(k).encode("utf-8", "replace").decode(): v for k, v in bad.items()})


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
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        raise BadRequest(f"the request body is nested more than {MAX_DEPTH} levels deep") from None
    if data is None:
        if request.content_length in (None, 0):
            data = {}
        elif not request.is_json:
            raise BadRequest("the request body must be JSON (Content-Type: application/json)")
        else:
            raise BadRequest(f"the request body is not JSON that can be read: {_why_unreadable(request.get_data())}")
    if not isinstance(data, dict):
        raise Invalid("the request body must be a JSON object", {"body": ["must be an object"]})
    _refuse_nul(data, "some fields are invalid")
    try:
        return schema_for(schema).load(data)
    except ValidationError as exc:
        raise Invalid("some fields are missing or invalid", _messages(exc)) from None


def _why_unreadable(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"it is not UTF-8 (byte {exc.start})"
    try:
        json.loads(text)
    except ValueError as exc:  # a syntax error, or a number too long to read (over 4300 digits)
        return str(exc)
    return "it could not be parsed"


def query(schema: type[Schema]) -> dict[str, Any]:
    args = request.args.to_dict()
    _refuse_nul(args, "some query parameters are invalid")
    try:
        return schema_for(schema).load(args)
    except ValidationError as exc:
        raise Invalid("some query parameters are invalid", _messages(exc)) from None


def page(statement: Any, args: dict[str, Any], dump: Any):
    """The page of ``statement``'s rows that ``args`` (firstResult, maxResults) asks for, as a
    JSON response; when rows are left after it, a Link header names the next page."""
    first, size = args["firstResult"], args["maxResults"]
    rows = list(db.session.execute(statement.offset(first).limit(size + 1)).scalars())
    response = jsonify(dump(rows[:size]))
    if len(rows) > size:
        following = {**request.args.to_dict(), "firstResult": str(first + size), "maxResults": str(size)}
        response.headers["Link"] = f'<{request.base_url}?{urlencode(following)}>; rel="next"'
    return response


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
