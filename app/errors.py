"""Domain errors raised by services, and how the API answers them.

Services raise these; the API turns each into `{"error": {"code", "message", "details"}}`
with the status below, so integrators can branch on `code`.
"""
from __future__ import annotations

from typing import Any


class PathwaysError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(PathwaysError):
    status, code = 400, "bad_request"


class Unauthorized(PathwaysError):
    status, code = 401, "unauthorized"


class Forbidden(PathwaysError):
    status, code = 403, "forbidden"


class NotFound(PathwaysError):
    status, code = 404, "not_found"


class Conflict(PathwaysError):
    status, code = 409, "conflict"


class Invalid(PathwaysError):
    """Input that names its problems per field in ``details``."""

    status, code = 422, "invalid"


class Unavailable(PathwaysError):
    status, code = 503, "unavailable"
