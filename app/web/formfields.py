"""A step's form fields (Camunda formData) as GOV.UK components, and what a browser posts
back turned into the variables the services check."""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from ..services.forms import members, user_groups

# The posted value could not be read at all (the services check everything else).
_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")


def shown(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fields as the page shows them: each with its widget; a field naming a person
    given the next steps (`userInGroup`) with those who may be named as its choices."""
    return [{**f, "widget": widget(f), **({"options": [{"id": u.id, "name": f"{u.display_name} ({u.id})"}
                                                        for u in members(groups)]}
                                          if (groups := user_groups(f)) else {})}
            for f in fields]


def widget(field: dict[str, Any]) -> str:
    """Which GOV.UK component shows the field."""
    kind = field["type"]
    if user_groups(field):
        return "select"
    if kind == "boolean":
        return "yes_no"
    if kind == "enum":
        return "radios" if len(field["options"]) <= 8 else "select"
    if kind == "date":
        return "date_time" if "time" in field["label"].lower() else "date"
    if kind == "long":
        return "number"
    ui = field.get("properties", {}).get("ui")
    if ui in ("input", "textarea"):
        return ui
    return "input" if re.search(r"\b(ID|user ID|name|date)\b", field["label"], re.I) else "textarea"


def read(fields: list[dict[str, Any]], form: Any) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """(variables, errors it could not even read, the raw values to show again)."""
    variables: dict[str, Any] = {}
    errors: dict[str, str] = {}
    raw: dict[str, Any] = {}
    for field in fields:
        fid, kind, label = field["id"], widget(field), field["label"]
        if kind in ("date", "date_time"):
            parts = {p: form.get(f"{fid}-{p}", "").strip() for p in ("day", "month", "year", "time")}
            raw[fid] = parts
            if not any(parts[p] for p in ("day", "month", "year")):
                continue
            try:
                day = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
            except ValueError:
                errors[fid] = f"{label} must be a real date"
                continue
            value = day.isoformat()
            if kind == "date_time" and not parts["time"]:
                # Timescales from these count in hours: a date alone would be read as midnight.
                errors[fid] = f"{label}: enter the time as well, like 14:30"
                continue
            if kind == "date_time":
                match = _TIME.match(parts["time"])
                if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
                    errors[fid] = f"{label}: enter the time as hours and minutes, like 14:30"
                    continue
                value = f"{value}T{int(match.group(1)):02d}:{match.group(2)}:00"
            variables[fid] = value
            continue
        value = form.get(fid, "")
        raw[fid] = value
        if value == "":
            continue
        if kind == "yes_no":
            variables[fid] = value == "true"
        elif kind == "number":
            try:
                variables[fid] = int(value.strip())
            except ValueError:
                errors[fid] = f"{label} must be a whole number"
        else:
            variables[fid] = value
    return variables, errors, raw
