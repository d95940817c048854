"""Checking submitted variables against a step's form fields (Camunda `formData`).

Every problem is reported against its field, so a worker or an integrator can fix them
all at once.
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any, Callable

import sqlalchemy as sa
from flask import current_app, has_app_context

from ..calendar import WorkingCalendar, to_london
from ..engine import expression_in
from ..errors import Invalid
from ..extensions import db
from ..models import User

# Set by the engine on completion; a caller writing them would falsify the record.
RESERVED = {"completedAt", "completedBy", "outcome"}
MAX_TEXT = 20_000
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,119}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Works out a `${...}` requiredWhen: (expression, context) → its value.
Evaluate = Callable[[str, dict[str, Any]], Any]


class Problems(ValueError):
    """Several things wrong with one value (entries of a list), each reported."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


_CHILD_KEYS = ("childId", "dateOfBirth", "name")


def _children(value: Any) -> list[dict[str, Any]]:
    """The family's children: `[{"childId", "dateOfBirth" (optional), "name" (optional)}]`,
    each problem named by the child's place in the list (1 for the first)."""
    if not isinstance(value, list) or not value:
        raise Problems(["Enter the family's children as a list of objects with a childId"])
    problems: list[str] = []
    result, seen = [], {}
    for number, entry in enumerate(value, start=1):
        if not isinstance(entry, dict):
            problems.append(f"Child {number} must be an object with a childId")
            continue
        child: dict[str, Any] = {}
        for key in entry:
            if key not in _CHILD_KEYS:
                problems.append(f"Child {number}: {key!r} is not one of {', '.join(_CHILD_KEYS)}")
        child_id = entry.get("childId")
        if not isinstance(child_id, str) or not child_id.strip():
            problems.append(f"Child {number} has no childId")
        elif child_id.strip() in seen:
            problems.append(f"Child {number} has the same childId as child {seen[child_id.strip()]} ({child_id.strip()})")
        else:
            seen[child_id.strip()] = number
            child["childId"] = child_id.strip()
        born = entry.get("dateOfBirth")
        if born is not None:
            try:
                if not isinstance(born, str) or not _DATE.match(born.strip()):
                    raise ValueError
                child["dateOfBirth"] = date.fromisoformat(born.strip()).isoformat()
            except ValueError:
                problems.append(f"Child {number}: dateOfBirth must be a real date as YYYY-MM-DD")
        name = entry.get("name")
        if name is not None:
            if not isinstance(name, str) or len(name) > 200:
                problems.append(f"Child {number}: name must be text of at most 200 characters")
            elif name.strip():
                child["name"] = name.strip()
        result.append(child)
    if problems:
        raise Problems(problems)
    return result


def _coerce(field: dict[str, Any], value: Any) -> Any:
    kind = field["type"]
    if kind == "children":
        return _children(value)
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
                day = date.fromisoformat(text)
            except ValueError:
                raise ValueError("is not a real date") from None
            return _in_years(day).isoformat()
        try:
            return _in_years(to_london(text)).isoformat()
        except ValueError:
            raise ValueError("must be a date as YYYY-MM-DD or an ISO 8601 date and time, "
                             f"between {YEARS.start} and {YEARS.stop - 1}") from None
    if len(value) > MAX_TEXT:
        raise ValueError(f"must be at most {MAX_TEXT:,} characters")
    if groups := user_groups(field):
        return _member_of(value.strip(), groups)
    return value


def user_groups(field: dict[str, Any]) -> list[str]:
    """The groups named by a field's `userInGroup` property: its value is a person given the
    case's next steps (a worker allocated), who must be a user in one of them."""
    return [g.strip() for g in field.get("properties", {}).get("userInGroup", "").split(",") if g.strip()]


def members(groups: list[str]) -> list[User]:
    """The users of ``groups`` who work tasks, by name: the people such a field may name."""
    users = db.session.execute(sa.select(User).order_by(User.display_name, User.id)).scalars()
    return [u for u in users if u.works_tasks and set(u.groups or []) & set(groups)]


def _member_of(user_id: str, groups: list[str]) -> str:
    # A name the inbox does not know, or someone outside the groups, would be given the
    # visit and nobody who can do it would see it: the child would not be seen.
    user = db.session.get(User, user_id) if has_app_context() else None
    if user is None or not user.works_tasks or not set(user.groups or []) & set(groups):
        raise ValueError(f"must be the user ID of someone in {' or '.join(groups)}: there is no such user "
                         f"{user_id!r}" if user is None else
                         f"must be the user ID of someone in {' or '.join(groups)}: {user_id} is not")
    return user_id


# Any date a case records falls in these years; outside them, a typing slip (0202, 20266).
YEARS = range(1900, 2200)


def _in_years(day: Any) -> Any:
    if day.year not in YEARS:
        raise ValueError(f"must be a date between {YEARS.start} and {YEARS.stop - 1}")
    return day


def _phrase(label: str) -> str:
    """A label inside a sentence: "Date of visit" → "date of visit", "ICPC date" unchanged."""
    return label[0].lower() + label[1:] if len(label) > 1 and label[1].islower() else label


def _missing(field: dict[str, Any]) -> str:
    """The GOV.UK Design System's wording for an empty field, unless the diagram gives one."""
    if field.get("properties", {}).get("errorMessage"):
        return field["properties"]["errorMessage"]
    verb = "Select" if field["type"] in ("enum", "boolean") else "Enter"
    return f"{verb} {_phrase(field['label'])}"


def _check_constraints(field: dict[str, Any], value: Any) -> None:
    for name, config in field.get("constraints", {}).items():
        if name == "mustBe" and value is not (config == "true"):
            raise ValueError(field.get("properties", {}).get("errorMessage")
                             or f"{field['label']} must be {'yes' if config == 'true' else 'no'} to continue")
        if name == "min" and value < int(config):
            raise ValueError(f"{field['label']} must be {config} or more")
        if name == "max" and value > int(config):
            raise ValueError(f"{field['label']} must be {config} or less")
        if name == "minlength" and len(value.strip()) < int(config):
            raise ValueError(f"{field['label']} must be {config} characters or more")
        if name == "maxlength" and len(value) > int(config):
            raise ValueError(f"{field['label']} must be {config} characters or fewer")


def _day(value: str) -> date:
    """The London day of a date field's value (a date, or a date and time)."""
    return date.fromisoformat(value) if _DATE.match(value) else to_london(value).date()


def _check_bounds(field: dict[str, Any], value: str) -> None:
    """`notBefore` / `notAfter` of a date field (dates the engine worked out when the task
    became ready, e.g. 45 working days from consent), in the GOV.UK Design System's words;
    and `notAfterToday`, for the date something happened (a visit): a date mistyped into the
    future would move every timescale counted from it, and its escalation, as far."""
    day = _day(value)
    if field.get("properties", {}).get("notAfterToday") == "true" and (today := _today()) and day > today:
        raise ValueError(f"{field['label']} must be today or in the past")
    for name, words in (("notBefore", "the same as or after"), ("notAfter", "the same as or before")):
        bound = field.get(name)
        if bound is None:
            continue
        limit = date.fromisoformat(bound)
        if (day < limit) if name == "notBefore" else (day > limit):
            raise ValueError(f"{field['label']} must be {words} {limit.day} {limit:%B %Y}")


def _today() -> date | None:
    """Today in London by the engine's clock (the instant the step is done as), or None
    outside an app."""
    if not has_app_context():
        return None
    return to_london(current_app.extensions["pathways.engine"].clock()).date()


def _required_now(field: dict[str, Any], values: dict[str, Any], context: dict[str, Any],
                  evaluate: Evaluate | None) -> bool:
    """A `requiredWhen` property makes a field required by another's answer ("otherField=value"),
    or by an expression ("${...}") over the case's variables and this form's answers, e.g.
    a reason the child was not seen alone, once the child is 5 or over."""
    condition = field.get("properties", {}).get("requiredWhen")
    if not condition:
        return False
    if expression := expression_in(condition):
        # Without an evaluator (a page collecting errors before the service checks the form
        # in full) it is left to the service.
        return evaluate is not None and bool(evaluate(expression, context))
    other, _, wanted = condition.partition("=")
    value = values.get(other.strip())
    return value is not None and str(value).lower() == wanted.strip().lower()


def reads_case_variables(fields: list[dict[str, Any]]) -> bool:
    """Whether a field's `requiredWhen` is an expression, which may read the case's variables."""
    return any(expression_in(f.get("properties", {}).get("requiredWhen")) for f in fields)


def _notice(field: dict[str, Any]) -> tuple[str, int, str] | None:
    """A `noticeBefore` property ("otherField:N", N working days, or "otherField:Nw", N
    weeks): this date must come at least that long before the other date."""
    text = field.get("properties", {}).get("noticeBefore")
    if not text:
        return None
    other, _, amount = text.partition(":")
    amount = amount.strip()
    unit = "weeks" if amount.endswith("w") else "working days"
    return other.strip(), int(amount.rstrip("w")), unit


def _notice_problem(field: dict[str, Any], values: dict[str, Any], by_id: dict[str, Any]) -> str | None:
    other, amount, unit = _notice(field)
    given, before = values.get(field["id"]), values.get(other)
    if given is None or before is None:
        return None
    start, end = _day(given), _day(before)
    if unit == "weeks":
        enough = end - start >= timedelta(weeks=amount)
    else:
        calendar = current_app.extensions["pathways.calendar"] if has_app_context() else WorkingCalendar()
        enough = calendar.working_days_between(start, end) >= amount
    if enough:
        return None
    return field.get("properties", {}).get("noticeMessage") or (
        f"{field['label']} must be at least {amount} {unit} before the "
        f"{by_id[other]['label'][0].lower()}{by_id[other]['label'][1:]}")


def validate(fields: list[dict[str, Any]], variables: Any, known: dict[str, Any] | None = None,
             evaluate: Evaluate | None = None) -> dict[str, Any]:
    """Return the variables with values normalised; raise Invalid naming each bad field.

    With no form fields any JSON variables are accepted (a step without a form); with a
    form, names it does not declare are refused so a typo is not silently ignored.
    ``known`` are the case's variables and ``evaluate`` works out expressions over them, for
    a `${...}` requiredWhen.
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
        elif name in by_id and value is not None and not (isinstance(value, str) and not value.strip()):
            # (Spaces alone are an empty answer: a required field is not filled in by them.)
            try:
                result[name] = _coerce(by_id[name], value)
                _check_constraints(by_id[name], result[name])
                if by_id[name]["type"] == "date":
                    _check_bounds(by_id[name], result[name])
            except Problems as exc:
                errors.setdefault(name, []).extend(exc.problems)
            except ValueError as exc:
                message = str(exc)
                errors.setdefault(name, []).append(
                    message if message.startswith(by_id[name]["label"]) or message[0].isupper()
                    else f"{by_id[name]['label']} {message}")
        elif name not in by_id:
            result[name] = value
    # The form's own fields are this submission's answers (null when left empty), never an
    # answer kept from an earlier time round a loop.
    answers = {**{f["id"]: None for f in fields}, **result}
    for f in fields:
        # A field's scope: the task's own variables (the child of a per-child cadence).
        context = {**(known or {}), **(f.get("scope") or {}), **answers}
        if (f.get("required") or _required_now(f, result, context, evaluate)) and result.get(f["id"]) is None \
                and f["id"] not in errors:
            errors.setdefault(f["id"], []).append(_missing(f))
        elif _notice(f) and f["id"] not in errors and (problem := _notice_problem(f, result, by_id)):
            errors.setdefault(f["id"], []).append(problem)
    if errors:
        raise Invalid("some variables are missing or invalid", errors)
    return result
