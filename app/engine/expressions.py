"""The names every diagram expression can use: process variables, JSON-style constants
and the working-day calendar.

Gateway conditions, due dates, assignees and timers are Python expressions. The calendar
helpers take an ISO 8601 string (or a date/datetime) and return an ISO 8601 string,
because timer values must be ISO strings and task data must stay JSON.
"""
from __future__ import annotations

import ast
import builtins
import re
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Callable

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from ..calendar import WorkingCalendar, to_london
from .clock import operation_now


def _iso(helper: Callable[[Any, Any], datetime]) -> Callable[[Any, Any], str]:
    def call(n: Any, from_: Any) -> str:
        if from_ is None:
            raise ValueError(f"{helper.__name__}({n!r}, None): the event date has not been recorded")
        return helper(n, from_).isoformat()

    call.__name__ = helper.__name__
    return call


def expression_globals(calendar: WorkingCalendar) -> dict[str, Any]:
    return {
        "working_days": _iso(calendar.working_days),
        "hours": _iso(calendar.hours),
        "weeks": _iso(calendar.weeks),
        "months": _iso(calendar.months),
        # The instant of the step in progress, for timescales whose event is the step itself
        # ("within 2 working days of the request reaching the team's tray").
        "now": lambda: operation_now().isoformat(),
        "before": _before,
        # Process owners think in JSON/FEEL literals, not Python's capitalised ones.
        "true": True,
        "false": False,
        "null": None,
        "date": date,
        "datetime": datetime,
    }


def _before(a: Any, b: Any) -> bool:
    """Is instant (or date) ``a`` earlier than ``b``? ISO 8601 text or date/datetime."""
    return to_london(a) < to_london(b)


class _Environment(TaskDataEnvironment):
    """Adds `variable(name, default=None)`: a variable that may not have been recorded yet
    (an optional start variable, a field of a step not taken), where a bare name would be
    an error — as it should be for a misspelt one."""

    def evaluate(self, expression, context, external_context=None):
        def variable(name: str, default: Any = None) -> Any:
            return context.get(name, default)

        return super().evaluate(expression, context, {"variable": variable, **(external_context or {})})


def create_script_engine(calendar: WorkingCalendar) -> PythonScriptEngine:
    return PythonScriptEngine(environment=_Environment(expression_globals(calendar)))


# What a process owner used to Camunda writes that Python does not read (JUEL's operators).
_JUEL_OPERATORS = re.compile(r"\b(eq|ne|lt|gt|le|ge|empty)\b|&&|\|\||!(?!=)")


def check_expression(expression: str) -> str | None:
    """Return a message if ``expression`` cannot run as a diagram expression, else None: not
    a Python expression, or calling a function no diagram has (`working_dayz(...)`, Camunda's
    `dateTime()`). Variables are data, never functions, so such a call could only fail."""
    try:
        compile(expression, "<expression>", "eval")
    except SyntaxError as exc:
        hint = (" (JUEL's eq, ne, lt, gt, &&, || and ! are not read here: write ==, !=, <, >, and, or, not)"
                if _JUEL_OPERATORS.search(expression) else "")
        return f"{exc.msg} in {expression.strip()!r}{hint}"
    unknown = sorted({node.func.id for node in ast.walk(ast.parse(expression.strip(), mode="eval"))
                      if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                      and node.func.id not in _CALLABLE})
    if unknown:
        return (f"{', '.join(unknown)}() in {expression.strip()!r} is not a function a diagram can call "
                f"(the calendar's are {', '.join(CALENDAR_FUNCTIONS)}; variable(name, default) reads a variable "
                f"that may not be set)")
    return None


@lru_cache(maxsize=1024)
def names_read(expression: str) -> frozenset[str]:
    """The process variables ``expression`` reads: bare names and `variable("name")`.

    A due date is worked out again when one of them changes (see runtime.Engine); the
    calendar helpers and constants are not variables and never trigger that.
    """
    tree = ast.parse(expression, mode="eval")
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif name := variable_read(node):
            names.add(name)
    return frozenset(names - set(_HELPER_NAMES))


def variable_read(node: ast.AST) -> str | None:
    """The name ``node`` reads if it is `variable("name")` (or `variable("name", default)`)."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "variable"
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return node.args[0].value
    return None


CALENDAR_FUNCTIONS = ("working_days", "hours", "weeks", "months", "now", "before")
_HELPER_NAMES = (*CALENDAR_FUNCTIONS, "true", "false", "null", "date", "datetime", "variable")
# Python's own functions are there too (an expression is evaluated with its builtins).
_CALLABLE = frozenset(_HELPER_NAMES) | frozenset(
    name for name in dir(builtins) if not name.startswith("_") and callable(getattr(builtins, name)))
