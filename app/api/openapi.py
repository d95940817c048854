"""OpenAPI 3 for API v1, generated from the marshmallow schemas each view declares."""
from __future__ import annotations

import re
from typing import Any, Callable

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from . import schemas

_STATUS_TEXT = {
    400: "Bad request", 401: "No or invalid API token", 403: "Not allowed for this caller",
    404: "Not found", 409: "Conflict with the current state", 413: "Request too large",
    422: "Invalid input; details name each field", 503: "A service Pathways needs is unavailable",
}


def doc(summary: str, *, body: type | None = None, query: type | None = None,
        response: tuple[int, Any] = (200, None), errors: tuple[int, ...] = (),
        auth: bool = True, multipart: bool = False, media_type: str = "application/json") -> Callable:
    """Attach what the OpenAPI document says about a view; ``media_type`` is the success
    answer's (errors are always JSON)."""

    def wrap(view: Callable) -> Callable:
        view.openapi = {"summary": summary, "body": body, "query": query, "response": response,
                        "errors": errors, "auth": auth, "multipart": multipart, "media_type": media_type,
                        "description": (view.__doc__ or "").strip()}
        return view

    return wrap


def _schema_ref(schema: Any) -> Any:
    if isinstance(schema, list):
        return {"type": "array", "items": _schema_ref(schema[0])}
    if isinstance(schema, dict):
        return schema
    return schema


def build(app: Flask) -> dict[str, Any]:
    spec = APISpec(
        title="Pathways API",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Start and work children's social care pathways. "
                             "Errors are {\"error\": {\"code\", \"message\", \"details\"}}."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=schemas.Error)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1"):
            continue
        view = app.view_functions[rule.endpoint]
        meta = getattr(view, "openapi", None)
        if meta is None:
            continue
        path = re.sub(r"<(?:[a-z]+:)?([A-Za-z_]+)>", r"{\1}", rule.rule)
        parameters = [
            {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{([A-Za-z_]+)}", path)
        ]
        if meta["query"] is not None:
            parameters.append({"in": "query", "schema": meta["query"]})
        status, response = meta["response"]
        responses: dict[Any, Any] = {
            status: {"description": "Success"} if response is None else {
                "description": "Success",
                "content": {meta["media_type"]: {"schema": _schema_ref(response)}},
            }
        }
        codes = set(meta["errors"]) | ({401} if meta["auth"] else set())
        if meta["body"] is not None or meta["multipart"]:
            codes |= {400, 422} if not meta["multipart"] else {400, 413}
        for code in sorted(codes):
            responses[code] = {"description": _STATUS_TEXT[code],
                               "content": {"application/json": {"schema": "Error"}}}
        operation: dict[str, Any] = {"summary": meta["summary"], "responses": responses,
                                     "parameters": parameters}
        if meta["description"]:
            operation["description"] = meta["description"]
        if meta["auth"]:
            operation["security"] = [{"bearer": []}]
        if meta["body"] is not None:
            operation["requestBody"] = {"required": True,
                                        "content": {"application/json": {"schema": meta["body"]}}}
        if meta["multipart"]:
            operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object",
                "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                "required": ["files"],
            }}}}
        methods = sorted(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
        spec.path(path=path, operations={m: operation for m in methods})
    return spec.to_dict()
