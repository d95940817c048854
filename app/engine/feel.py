"""The part of FEEL (S-FEEL) that decision tables are written in, as Camunda Modeler and
dmn-js write it: literals, `-`, lists of tests, ranges with open and closed ends,
comparisons, `not(...)`, variable references, and `date(...)` / `date and time(...)`.

Parsed once at deploy time into small test objects, so a table that uses anything else is
refused with the rule and column named, and evaluation never guesses.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

_TOKEN = re.compile(r'''\s*(?:
    (?P<function>date\s+and\s+time(?=\s*\())
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>\d+(?:\.\d+)?|\.\d+)
  | (?P<op><=|>=|!=|\.\.|[<>=\[\]\(\),-])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
)''', re.VERBOSE)


class FeelError(ValueError):
    """An entry that is not S-FEEL we support; the message says what was found."""


# SpiffWorkflow's tables are Python: its constants would read as variables never set.
_PYTHON_CONSTANTS = {"True": "true", "False": "false", "None": "null"}


def _not_python(name: str, text: str) -> None:
    if name in _PYTHON_CONSTANTS:
        raise FeelError(f"{name} is Python; FEEL writes {_PYTHON_CONSTANTS[name]} in {text!r}")


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos, text = [], 0, text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FeelError(f"unexpected {text[pos:pos + 12]!r}")
        kind = match.lastgroup
        tokens.append(("name", "date and time") if kind == "function" else (kind, match.group(kind)))
        pos = match.end()
    return tokens


def _string_literal(token: str) -> str:
    """A quoted FEEL string's text: its escapes (\\", \\\\, \\n, \\uXXXX) are JSON's."""
    try:
        return json.loads(token)
    except json.JSONDecodeError as exc:
        raise FeelError(f"bad string {token}: {exc.msg}") from None


def to_value(raw: Any) -> Any:
    """A JSON value from the process as FEEL sees it: numbers become Decimals."""
    if isinstance(raw, bool) or raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, (int, float)):
        try:
            return Decimal(str(raw))
        except InvalidOperation:
            return None
    return raw


def from_value(value: Any) -> Any:
    """Back to JSON: whole Decimals become ints, dates ISO 8601 text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def feel_date(value: Any) -> dt.date | None:
    """FEEL `date(text)`; null for anything that is not a calendar date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def feel_date_and_time(value: Any) -> dt.datetime | None:
    """FEEL `date and time(text)`; a trailing Z is UTC."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str) and "T" in value:
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


BUILTINS = {"date": feel_date, "date and time": feel_date_and_time}


def _align(value: Any, other: Any) -> Any:
    """Process variables carry dates as ISO text: read such text as the date it is compared with."""
    if isinstance(value, str) and isinstance(other, dt.date):
        if isinstance(other, dt.datetime):
            return feel_date_and_time(value)
        moment = feel_date_and_time(value)
        return moment.date() if moment else feel_date(value)
    return value


def _constant_call(name: str, argument: Any, text: str) -> Literal:
    """`date("2025-01-31")` in an entry: checked and turned into its value at deploy time."""
    value = BUILTINS[name](argument)
    if value is None:
        raise FeelError(f"{name}({argument!r}) is not a valid {name} in {text!r}")
    return Literal(value)


@dataclass(frozen=True)
class Literal:
    value: Any

    def evaluate(self, context: dict[str, Any]) -> Any:
        return self.value


@dataclass(frozen=True)
class Name:
    path: str

    def evaluate(self, context: dict[str, Any]) -> Any:
        if self.path in context:
            return to_value(context[self.path])
        value: Any = context
        for part in self.path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return to_value(value)


def _comparable(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return (a.tzinfo is None) == (b.tzinfo is None)  # naive and aware instants do not compare
    return type(a) is type(b)


@dataclass(frozen=True)
class Compare:
    op: str
    endpoint: Any  # Literal or Name

    def matches(self, value: Any, context: dict[str, Any]) -> bool:
        other = self.endpoint.evaluate(context)
        value = _align(value, other)
        if self.op in ("=", "!="):
            equal = value == other and (value is None or other is None or _comparable(value, other))
            return equal if self.op == "=" else not equal and _comparable(value, other)
        if not _comparable(value, other) or isinstance(value, bool):
            return False
        return {"<": value < other, "<=": value <= other, ">": value > other, ">=": value >= other}[self.op]


@dataclass(frozen=True)
class Interval:
    low: Any
    high: Any
    low_closed: bool
    high_closed: bool

    def matches(self, value: Any, context: dict[str, Any]) -> bool:
        low, high = self.low.evaluate(context), self.high.evaluate(context)
        value = _align(value, low)
        if not (_comparable(value, low) and _comparable(value, high)) or isinstance(value, bool):
            return False
        above = value >= low if self.low_closed else value > low
        below = value <= high if self.high_closed else value < high
        return above and below


@dataclass(frozen=True)
class AnyValue:
    def matches(self, value: Any, context: dict[str, Any]) -> bool:
        return True


@dataclass(frozen=True)
class OneOf:
    tests: tuple
    negated: bool = False

    def matches(self, value: Any, context: dict[str, Any]) -> bool:
        hit = any(t.matches(value, context) for t in self.tests)
        return not hit if self.negated else hit


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            found = token[1] if token else "the end"
            raise FeelError(f"expected {value or 'a value'} but found {found!r} in {self.text!r}")
        self.pos += 1
        return token

    def done(self) -> None:
        if self.peek() is not None:
            raise FeelError(f"unexpected {self.peek()[1]!r} in {self.text!r}")

    def endpoint(self):
        kind, value = self.take()
        if kind == "string":
            return Literal(_string_literal(value))
        if kind == "number":
            return Literal(Decimal(value))
        if value == "-" and self.peek() and self.peek()[0] == "number":
            return Literal(-Decimal(self.take()[1]))
        if kind == "name":
            if value in ("true", "false"):
                return Literal(value == "true")
            if value == "null":
                return Literal(None)
            if self.peek() and self.peek()[1] == "(":
                if value not in BUILTINS:
                    raise FeelError(f"function {value}(...) is not supported in {self.text!r}")
                self.take("(")
                kind, argument = self.take()
                if kind != "string":
                    raise FeelError(f"{value}(...) takes a quoted text in {self.text!r}")
                self.take(")")
                return _constant_call(value, _string_literal(argument), self.text)
            _not_python(value, self.text)
            return Name(value)
        raise FeelError(f"unexpected {value!r} in {self.text!r}")

    def test(self):
        token = self.peek()
        if token and token[1] in ("<", "<=", ">", ">=", "=", "!="):
            self.take()
            return Compare(token[1], self.endpoint())
        if token and token[1] in ("[", "(", "]"):
            opener = self.take()[1]
            low = self.endpoint()
            self.take("..")
            high = self.endpoint()
            closer = self.take()[1]
            if closer not in ("]", ")", "["):
                raise FeelError(f"a range must end with ], ) or [ in {self.text!r}")
            return Interval(low, high, opener == "[", closer == "]")
        return Compare("=", self.endpoint())

    def tests(self) -> tuple:
        tests = [self.test()]
        while self.peek() and self.peek()[1] == ",":
            self.take(",")
            tests.append(self.test())
        return tuple(tests)


def parse_unary_tests(text: str | None):
    """An input entry: `-`, a list of tests, or `not(` a list of tests `)`."""
    text = (text or "").strip()
    if text in ("", "-"):
        return AnyValue()
    parser = _Parser(text)
    if parser.peek() == ("name", "not") and parser.peek(1) and parser.peek(1)[1] == "(":
        parser.take()
        parser.take("(")
        tests = parser.tests()
        parser.take(")")
        parser.done()
        return OneOf(tests, negated=True)
    tests = parser.tests()
    parser.done()
    return OneOf(tests)


# FEEL names may contain spaces ("Applicant Age"); an input expression may be one such name.
_NAME_WITH_SPACES = re.compile(r"^[A-Za-z_?][A-Za-z0-9_?' ]*[A-Za-z0-9_?]$")


def parse_simple_expression(text: str | None):
    """An output entry or an input expression: a literal or a variable reference."""
    text = (text or "").strip()
    if not text:
        raise FeelError("empty expression")
    try:
        parser = _Parser(text)
        expression = parser.endpoint()
        parser.done()
    except FeelError:
        if _NAME_WITH_SPACES.match(text) and text not in ("true", "false", "null", *_PYTHON_CONSTANTS):
            return Name(text)
        raise
    return expression


# -- FEEL expressions (literal-expression decisions) ---------------------------------------

_EXPR_TOKEN = re.compile(r'''\s*(?:
    (?P<function>date\s+and\s+time(?=\s*\())
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>\d+(?:\.\d+)?|\.\d+)
  | (?P<op>\*\*|<=|>=|!=|[<>=+\-*/(),:])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
)''', re.VERBOSE)
_KEYWORDS = {"and", "or", "if", "then", "else", "true", "false", "null", "not"}


def _context():
    import decimal

    return decimal.Context(prec=34)  # FEEL numbers are IEEE 754 decimal128


@dataclass(frozen=True)
class Binary:
    op: str
    left: Any
    right: Any

    def evaluate(self, context: dict[str, Any]) -> Any:
        if self.op in ("and", "or"):
            values = [_truth(self.left.evaluate(context)), _truth(self.right.evaluate(context))]
            if self.op == "and":
                return False if False in values else (None if None in values else True)
            return True if True in values else (None if None in values else False)
        a, b = self.left.evaluate(context), self.right.evaluate(context)
        a, b = _align(a, b), _align(b, a)
        if self.op in ("=", "!="):
            if a is None or b is None:
                equal = a is None and b is None
            elif not _comparable(a, b):
                return None
            else:
                equal = a == b
            return equal if self.op == "=" else not equal
        if a is None or b is None:
            return None
        if self.op in ("<", "<=", ">", ">="):
            if not _comparable(a, b) or isinstance(a, bool):
                return None
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[self.op]
        if isinstance(a, str) and isinstance(b, str) and self.op == "+":
            return a + b
        if not (isinstance(a, Decimal) and isinstance(b, Decimal)):
            return None
        ctx = _context()
        try:
            if self.op == "+":
                return ctx.add(a, b)
            if self.op == "-":
                return ctx.subtract(a, b)
            if self.op == "*":
                return ctx.multiply(a, b)
            if self.op == "/":
                return None if b == 0 else ctx.divide(a, b)
            return ctx.power(a, b)
        except ArithmeticError:
            return None


def _truth(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


@dataclass(frozen=True)
class Negate:
    operand: Any

    def evaluate(self, context: dict[str, Any]) -> Any:
        value = self.operand.evaluate(context)
        return -value if isinstance(value, Decimal) else None


@dataclass(frozen=True)
class Not:
    operand: Any

    def evaluate(self, context: dict[str, Any]) -> Any:
        value = _truth(self.operand.evaluate(context))
        return None if value is None else not value


@dataclass(frozen=True)
class IfThenElse:
    condition: Any
    then: Any
    otherwise: Any

    def evaluate(self, context: dict[str, Any]) -> Any:
        return self.then.evaluate(context) if self.condition.evaluate(context) is True \
            else self.otherwise.evaluate(context)


@dataclass(frozen=True)
class Call:
    """A call of a built-in function or of a business knowledge model in the context."""

    name: str
    arguments: tuple  # of (parameter name or None, expression)

    def evaluate(self, context: dict[str, Any]) -> Any:
        positional = [e.evaluate(context) for n, e in self.arguments if n is None]
        named = {n: e.evaluate(context) for n, e in self.arguments if n is not None}
        if self.name in BUILTINS:
            return BUILTINS[self.name](*positional) if len(positional) == 1 and not named else None
        function = context.get(self.name)
        return function(positional, named) if callable(function) else None


class _ExpressionParser:
    """Precedence, lowest first: if, or, and, comparison, + -, * /, **, unary -."""

    def __init__(self, text: str, names: set[str], functions: set[str]):
        self.text = text
        self.functions = functions | set(BUILTINS)
        self.tokens = self._tokenize(text, sorted(names | functions, key=len, reverse=True))
        self.pos = 0

    @staticmethod
    def _tokenize(text: str, names: list[str]) -> list[tuple[str, str]]:
        tokens, pos = [], 0
        while pos < len(text):
            if text[pos].isspace():
                pos += 1
                continue
            # Names may contain spaces ("Monthly Salary"): known ones are matched whole.
            known = next((n for n in names if " " in n and text.startswith(n, pos)), None)
            if known:
                tokens.append(("name", known))
                pos += len(known)
                continue
            match = _EXPR_TOKEN.match(text, pos)
            if not match or match.end() == pos:
                raise FeelError(f"unexpected {text[pos:pos + 12]!r} in {text!r}")
            kind = match.lastgroup
            tokens.append(("name", "date and time") if kind == "function" else (kind, match.group(kind)))
            pos = match.end()
        return tokens

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def accept(self, *values: str) -> str | None:
        token = self.peek()
        if token and token[1] in values and (token[0] != "name" or token[1] in _KEYWORDS):
            self.pos += 1
            return token[1]
        return None

    def expect(self, value: str) -> None:
        if not self.accept(value):
            found = self.peek()[1] if self.peek() else "the end"
            raise FeelError(f"expected {value!r} but found {found!r} in {self.text!r}")

    def parse(self):
        expression = self.expression()
        if self.peek() is not None:
            raise FeelError(f"unexpected {self.peek()[1]!r} in {self.text!r}")
        return expression

    def expression(self):
        if self.accept("if"):
            condition = self.expression()
            self.expect("then")
            then = self.expression()
            self.expect("else")
            return IfThenElse(condition, then, self.expression())
        return self.disjunction()

    def _left_to_right(self, operators: tuple[str, ...], operand, repeat: bool = True):
        """One precedence level: ``operand (op operand)*``, grouped from the left."""
        left = operand()
        while op := self.accept(*operators):
            left = Binary(op, left, operand())
            if not repeat:
                break
        return left

    def disjunction(self):
        return self._left_to_right(("or",), self.conjunction)

    def conjunction(self):
        return self._left_to_right(("and",), self.comparison)

    def comparison(self):
        # FEEL comparisons do not chain: a < b < c is not an expression.
        return self._left_to_right(("=", "!=", "<", "<=", ">", ">="), self.additive, repeat=False)

    def additive(self):
        return self._left_to_right(("+", "-"), self.multiplicative)

    def multiplicative(self):
        return self._left_to_right(("*", "/"), self.power)

    def power(self):
        return self._left_to_right(("**",), self.unary)

    def unary(self):
        if self.accept("-"):
            return Negate(self.unary())
        return self.primary()

    def primary(self):
        token = self.peek()
        if token is None:
            raise FeelError(f"unexpected end of {self.text!r}")
        if self.accept("("):
            inner = self.expression()
            self.expect(")")
            return inner
        if token == ("name", "not"):
            self.pos += 1
            self.expect("(")
            inner = self.expression()
            self.expect(")")
            return Not(inner)
        kind, value = token
        self.pos += 1
        if kind == "string":
            return Literal(_string_literal(value))
        if kind == "number":
            return Literal(Decimal(value))
        if kind == "name":
            if value in ("true", "false"):
                return Literal(value == "true")
            if value == "null":
                return Literal(None)
            if self.peek() and self.peek()[1] == "(" and value in self.functions:
                return self.call(value)
            if value in _KEYWORDS or (self.peek() and self.peek()[1] == "("):
                raise FeelError(f"{value}(...) is not supported in {self.text!r}")
            _not_python(value, self.text)
            return Name(value)
        raise FeelError(f"unexpected {value!r} in {self.text!r}")

    def call(self, name: str):
        self.expect("(")
        arguments = []
        while not self.accept(")"):
            if arguments:
                self.expect(",")
            parameter = None
            token, following = self.peek(), self.tokens[self.pos + 1] if self.pos + 1 < len(self.tokens) else None
            if token and token[0] == "name" and following == ("op", ":"):
                parameter = token[1]
                self.pos += 2
            arguments.append((parameter, self.expression()))
        if name in BUILTINS and [p for p, _ in arguments] == [None]:
            argument = arguments[0][1]
            if isinstance(argument, Literal):
                return _constant_call(name, argument.value, self.text)
        return Call(name, tuple(arguments))


def parse_expression(text: str | None, names: set[str] | frozenset[str] = frozenset(),
                     functions: set[str] | frozenset[str] = frozenset()):
    """A FEEL expression of literals, names, arithmetic, comparisons, and/or/not, if, and
    calls of the built-in date functions and of the ``functions`` named (business knowledge
    models)."""
    text = (text or "").strip()
    if not text:
        raise FeelError("empty expression")
    return _ExpressionParser(text, set(names), set(functions)).parse()
