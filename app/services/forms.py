"""Checking submitted variables against a step's form fields (Camunda `formData`).

Every problem is reported against its field, so a worker or an integrator can fix them
all at once.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from ..calendar import to_london
from ..errors import Invalid

# Set by the engine on completion; a caller writing them would falsify the record.
RESERVED = {"completedAt", "completedBy", "outcome"}
MAX_TEXT = 20_000
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,119}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _coerce(field: dict[str, Any], value: Any) -> Any:
    kind = field["type"]
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if kind == "long":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number")
        return value
    if kind == "enum":
        allowed = [o["id"] for o in field["options"]]
        if value not in allowed:
            raise ValueError(f"must be one of: {', '.join(allowed)}")
        return value
    if not isinstance(value, str):
        raise ValueError("must be text" if kind == "string" else "must be a date as YYYY-MM-DD")
    if kind == "date":
        text = value.strip()
        if _DATE.match(text):
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                raise ValueError("is not a real date") from None
        try:
            return to_london(text).isoformat()
        except ValueError:
            raise ValueError("must be a date as YYYY-MM-DD or an ISO 8601 date and time") from None
    if len(value) > MAX_TEXT:
        raise ValueError(f"must be at most {MAX_TEXT:,} characters")
    return value


def validate(fields: list[dict[str, Any]], variables: Any) -> dict[str, Any]:
    """Return the variables with values normalised; raise Invalid naming each bad field.

    With no form fields any JSON variables are accepted (a step without a form); with a
    form, names it does not declare are refused so a typo is not silently ignored.
    """
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        raise Invalid("variables must be an object", {"variables": ["must be an object"]})
    errors: dict[str, list[str]] = {}
    result: dict[str, Any] = {}
    by_id = {f["id"]: f for f in fields}
    for name, value in variables.items():
        if not isinstance(name, str) or not _NAME.match(name):
            errors.setdefault(str(name), []).append("is not a valid variable name")
        elif name in RESERVED:
            errors.setdefault(name, []).append("is set by Pathways and cannot be given")
        elif fields and name not in by_id:
            errors.setdefault(name, []).append("is not a field of this form")
        elif name in by_id and value is not None and value != "":
            try:
                result[name] = _coerce(by_id[name], value)
            except ValueError as exc:
                errors.setdefault(name, []).append(f"{by_id[name]['label']} {exc}")
        elif name not in by_id:
            result[name] = value
    for f in fields:
        if f.get("required") and result.get(f["id"]) is None and f["id"] not in errors:
            errors.setdefault(f["id"], []).append(f"{f['label']} is required")
    if errors:
        raise Invalid("some variables are missing or invalid", errors)
    return result
