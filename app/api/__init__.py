"""REST API v1: JSON, camelCase, bearer tokens; see DESIGN.md for the contract."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException

from ..errors import BadRequest, Invalid, PathwaysError

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def body(schema: type[Schema]) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        if request.content_length in (None, 0):
            data = {}
        else:
            raise BadRequest("the request body must be JSON (Content-Type: application/json)")
    if not isinstance(data, dict):
        raise Invalid("the request body must be a JSON object", {"body": ["must be an object"]})
    try:
        return schema().load(data)
    except ValidationError as exc:
        raise Invalid("some fields are missing or invalid", _messages(exc)) from None


def query(schema: type[Schema]) -> dict[str, Any]:
    try:
        return schema().load(request.args.to_dict())
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


from . import definitions, documents, instances, register, tasks  # noqa: E402,F401  (routes register on bp)
