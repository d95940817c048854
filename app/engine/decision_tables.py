"""DMN decision tables with DMN semantics: every hit policy, multiple outputs, input and
output value lists, and UNIQUE overlaps found at deploy time rather than at a child's
expense at run time."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import combinations
from typing import Any

from lxml import etree

from .feel import (
    AnyValue,
    Compare,
    FeelError,
    Interval,
    Literal,
    OneOf,
    feel_date,
    feel_date_and_time,
    from_value,
    parse_expression,
    parse_simple_expression,
    parse_unary_tests,
    to_value,
)

HIT_POLICIES = {"UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER", "OUTPUT ORDER"}
AGGREGATIONS = {None, "SUM", "MIN", "MAX", "COUNT"}


class TableError(ValueError):
    """A table that cannot be deployed; ``problems`` lists each with rule and column."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class NoAnswer(ValueError):
    """Evaluation gave no single answer (no rule, or conflicting rules); ``rules`` names them."""


@dataclass
class Column:
    label: str
    expression: Any
    allowed: Any  # OneOf of the declared values, or None
    type_ref: str | None = None  # a type we check values against (see TYPES), or None

    def named(self) -> str:
        variable = getattr(self.expression, "path", None)
        return f"input {self.label!r}" + (f" ({variable})" if variable and variable != self.label else "")


@dataclass
class Output:
    name: str
    allowed: list[Any] | None  # declared values in priority order, or None
    values: Any = None  # the declared values as unary tests (OneOf), or None


@dataclass
class Rule:
    number: int
    rule_id: str
    tests: list[Any]
    outputs: list[Any]


@dataclass
class DecisionTable:
    key: str
    name: str
    hit_policy: str
    aggregation: str | None
    inputs: list[Column]
    outputs: list[Output]
    rules: list[Rule]
    requires: list[str] = field(default_factory=list)

    # -- evaluation -----------------------------------------------------------------------

    def evaluate(self, variables: dict[str, Any]) -> dict[str, Any] | list[dict[str, Any]]:
        values = [column.expression.evaluate(variables) for column in self.inputs]
        for column, value in zip(self.inputs, values, strict=True):
            if column.type_ref and value is not None and not _is_type(value, column.type_ref):
                raise NoAnswer(f"{column.named()} is {from_value(value)!r} ({_kind_of(value)}), "
                               f"but its type is {column.type_ref}")
            if column.allowed is not None and value is not None and not column.allowed.matches(value, variables):
                raise NoAnswer(f"{column.named()} is {from_value(value)!r}, not one of its allowed values")
        absent = {i for i, column in enumerate(self.inputs) if not _given(column.expression, variables)}
        matched, passed_over = [], []
        for rule in self.rules:
            failed = _failed(rule, values, variables, absent)
            if failed is None:
                matched.append(rule)
            elif failed:
                passed_over.append((rule, failed))
        self._check_absent(matched, passed_over)
        try:
            return self._answer(matched, variables)
        except NoAnswer as exc:
            if absent:
                raise NoAnswer(f"{exc}; absent inputs: {self._names(absent)}") from None
            raise

    def _check_absent(self, matched: list[Rule], passed_over: list[tuple[Rule, set[int]]]):
        """An absent input is null, as DMN has it, and a rule written for null (`-`, `null`)
        may answer. But when a rule that could change the answer was passed over only
        because inputs were absent, the answer would depend on what they are: refuse."""
        first = matched[0].number if matched else None
        for rule, failing in passed_over:
            if self.hit_policy == "FIRST" and first is not None and rule.number > first:
                break
            raise NoAnswer(f"absent inputs {self._names(failing)}: rule {rule.number} ({rule.rule_id}) "
                           f"could apply if they were given, so the answer depends on them")

    def _names(self, indexes: set[int]) -> str:
        return ", ".join(getattr(self.inputs[i].expression, "path", self.inputs[i].label) for i in sorted(indexes))

    def _answer(self, matched: list[Rule], variables: dict[str, Any]):
        results = [self._outputs(rule, variables) for rule in matched]
        policy = self.hit_policy
        if policy in ("COLLECT", "RULE ORDER", "OUTPUT ORDER"):
            if policy == "OUTPUT ORDER":
                results = sorted(results, key=self._priority)
            if policy == "COLLECT" and self.aggregation:
                return {self.outputs[0].name: from_value(self._aggregate(results))}
            return [{k: from_value(v) for k, v in r.items()} for r in results]
        if not matched:
            raise NoAnswer("no rule matched")
        if policy == "UNIQUE" and len(matched) > 1:
            raise NoAnswer(f"rules {', '.join(str(r.number) for r in matched)} all match but the hit policy is UNIQUE")
        if policy == "ANY" and any(r != results[0] for r in results):
            raise NoAnswer(f"rules {', '.join(str(r.number) for r in matched)} match with different outputs "
                           f"but the hit policy is ANY")
        chosen = min(results, key=self._priority) if policy == "PRIORITY" else results[0]
        return {k: from_value(v) for k, v in chosen.items()}

    def _outputs(self, rule: Rule, variables: dict[str, Any]) -> dict[str, Any]:
        result = {}
        for output, entry in zip(self.outputs, rule.outputs, strict=True):
            value = entry.evaluate(variables)
            # Literal entries were checked at deploy; a computed one can only be checked now.
            if output.values is not None and not isinstance(entry, Literal) and not output.values.matches(value, {}):
                raise NoAnswer(f"rule {rule.number} ({rule.rule_id}) gives output {output.name!r} the value "
                               f"{from_value(value)!r}, not one of its declared values")
            result[output.name] = value
        return result

    def _priority(self, result: dict[str, Any]) -> tuple:
        # Earlier in an output's declared value list means higher priority.
        return tuple(o.allowed.index(result[o.name]) if o.allowed and result[o.name] in o.allowed else len(o.allowed or [])
                     for o in self.outputs)

    def _aggregate(self, results: list[dict[str, Any]]) -> Any:
        values = [r[self.outputs[0].name] for r in results if r[self.outputs[0].name] is not None]
        if self.aggregation == "COUNT":
            return Decimal(len(values))
        if not values:
            return None
        if self.aggregation == "SUM":
            return sum(values, Decimal(0))
        return min(values) if self.aggregation == "MIN" else max(values)

    def input_values(self, variables: dict[str, Any]) -> dict[str, Any]:
        """Each input's value, by the variable it reads, for error messages."""
        return {getattr(c.expression, "path", c.label): from_value(c.expression.evaluate(variables))
                for c in self.inputs}


@dataclass
class LiteralDecision:
    """A decision whose logic is one FEEL expression."""

    key: str
    name: str
    variable: str
    expression: Any
    requires: list[str]
    hit_policy: str = "LITERAL"
    functions: dict[str, Any] = field(default_factory=dict)

    @property
    def outputs(self) -> list[Output]:
        return [Output(self.variable, None)]

    def evaluate(self, variables: dict[str, Any]) -> dict[str, Any]:
        return {self.variable: from_value(self.expression.evaluate({**variables, **self.functions}))}


@dataclass
class KnowledgeModel:
    """A business knowledge model: a function of its formal parameters, called from FEEL
    by name with positional or named arguments. ``scope`` holds every model of the file so
    models can call each other."""

    name: str
    parameters: list[str]
    body: Any  # a FEEL expression, or a DecisionTable read with the parameters as input
    scope: dict[str, Any]

    def __call__(self, positional: list[Any], named: dict[str, Any]) -> Any:
        if len(positional) > len(self.parameters) or set(named) - set(self.parameters):
            return None
        arguments = {**dict(zip(self.parameters, positional)), **named}
        context = {**self.scope, **{p: arguments.get(p) for p in self.parameters}}
        if isinstance(self.body, DecisionTable):
            try:
                return to_value(drg_value(self.body, self.body.evaluate(context)))
            except NoAnswer:
                return None
        return self.body.evaluate(context)

    def input_values(self, variables: dict[str, Any]) -> dict[str, Any]:
        return {}


def decide(decisions: dict[str, Any], key: str, variables: dict[str, Any]):
    """Evaluate ``key``, first evaluating the decisions it requires (by their names, as
    FEEL refers to them) into the context."""
    context = dict(variables)

    def run(k: str, seen: tuple[str, ...] = ()):
        decision = decisions[k]
        for required in decision.requires:
            if required in seen:
                raise NoAnswer(f"decision {k} requires itself through {required}")
            other = decisions[required]
            if other.name not in context:
                result = run(required, seen + (k,))
                context[other.name] = drg_value(other, result)
        return decision.evaluate(context)

    return run(key)


def drg_value(decision, result):
    """The value a decision contributes to the decisions that require it."""
    if isinstance(result, dict) and len(decision.outputs) == 1:
        return result[decision.outputs[0].name]
    if isinstance(result, list) and len(decision.outputs) == 1:
        return [row[decision.outputs[0].name] for row in result]
    return result


def parse_tables(root: etree._Element) -> list:
    """Every decision of a DMN document (tables and literal expressions); raise TableError
    listing every problem."""
    problems: list[str] = []
    tables = []
    decisions = root.findall("{*}decision")
    if not decisions:
        problems.append("no decision in this file")
    ids = {d.get("id") for d in decisions}
    names = {d.get("name") for d in decisions} | {i.get("name") for i in root.findall("{*}inputData")}
    names.discard(None)
    models = _knowledge_models(root, names, problems)
    for decision in decisions:
        where = f"decision {decision.get('id')} ({decision.get('name') or decision.get('id')})"
        requires = []
        for ref in decision.findall("{*}informationRequirement/{*}requiredDecision"):
            target = (ref.get("href") or "").lstrip("#")
            if target not in ids:
                problems.append(f"{where}: requires decision {target!r}, which is not in this file")
            requires.append(target)
        functions = {}
        for ref in decision.findall("{*}knowledgeRequirement/{*}requiredKnowledge"):
            target = (ref.get("href") or "").lstrip("#")
            if target not in models:
                problems.append(f"{where}: requires business knowledge model {target!r}, which is not in this file")
            else:
                functions[models[target].name] = models[target]
        literal = decision.find("{*}literalExpression")
        if literal is not None:
            variable = decision.find("{*}variable")
            try:
                # Parameter names may contain spaces too, for named arguments.
                parameters = {p for model in functions.values() for p in model.parameters}
                expression = parse_expression(literal.findtext("{*}text"), names | parameters, set(functions))
            except FeelError as exc:
                problems.append(f"{where}: {exc}")
                continue
            tables.append(LiteralDecision(decision.get("id"), decision.get("name") or decision.get("id"),
                                          variable.get("name") if variable is not None else decision.get("name"),
                                          expression, requires, functions=functions))
            continue
        table = decision.find("{*}decisionTable")
        if table is None:
            problems.append(f"{where}: only decision tables and literal expressions are supported")
            continue
        parsed = _parse_table(decision, table, where, problems)
        parsed.requires = requires
        tables.append(parsed)
    if problems:
        raise TableError(problems)
    return tables


def _parse_table(decision, table, where: str, problems: list[str]) -> DecisionTable:
    policy = (table.get("hitPolicy") or "UNIQUE").upper()
    aggregation = table.get("aggregation")
    if policy not in HIT_POLICIES:
        problems.append(f"{where}: unknown hit policy {policy!r}")
    if aggregation not in AGGREGATIONS or (aggregation and policy != "COLLECT"):
        problems.append(f"{where}: aggregation {aggregation!r} needs hit policy COLLECT and one of SUM, MIN, MAX, COUNT")
    inputs = []
    for number, element in enumerate(table.findall("{*}input"), start=1):
        text = (element.findtext("{*}inputExpression/{*}text") or "").strip()
        label = element.get("label") or text or f"input {number}"
        try:
            expression = parse_simple_expression(text)
        except FeelError as exc:
            problems.append(f"{where}, input {label!r}: the input expression must be a variable name ({exc})")
            expression = Literal(None)
        allowed_text = element.findtext("{*}inputValues/{*}text")
        allowed = None
        if allowed_text:
            try:
                allowed = parse_unary_tests(allowed_text)
            except FeelError as exc:
                problems.append(f"{where}, input {label!r}: allowed values: {exc}")
        type_ref = (element.find("{*}inputExpression").get("typeRef") or "") \
            if element.find("{*}inputExpression") is not None else ""
        type_ref = type_ref.removeprefix("feel:")
        inputs.append(Column(label, expression, allowed, type_ref if type_ref in TYPES else None))
    outputs = []
    for number, element in enumerate(table.findall("{*}output"), start=1):
        name = element.get("name") or element.get("label") or f"output{number}"
        allowed_text = element.findtext("{*}outputValues/{*}text")
        allowed = parsed = None
        if allowed_text:
            try:
                parsed = parse_unary_tests(allowed_text)
                allowed = [t.endpoint.value for t in getattr(parsed, "tests", ()) if isinstance(t, Compare)
                           and t.op == "=" and isinstance(t.endpoint, Literal) and not parsed.negated]
            except FeelError as exc:
                problems.append(f"{where}, output {name!r}: allowed values: {exc}")
        outputs.append(Output(name, allowed, parsed))
    if aggregation and len(outputs) != 1:
        problems.append(f"{where}: an aggregation needs exactly one output")
    if policy in ("PRIORITY", "OUTPUT ORDER") and not any(o.allowed for o in outputs):
        # DMN orders the hits by the output values; without them the order would be a guess.
        columns = ", ".join(repr(o.name) for o in outputs)
        problems.append(f"{where}, output {columns}: hit policy {policy} takes its order from the output values, "
                        f"but no output lists its values")
    rules = []
    for number, element in enumerate(table.findall("{*}rule"), start=1):
        here = f"{where}, rule {number} ({element.get('id')})"
        entries = element.findall("{*}inputEntry")
        results = element.findall("{*}outputEntry")
        if len(entries) != len(inputs) or len(results) != len(outputs):
            problems.append(f"{here}: has {len(entries)} input and {len(results)} output entries; "
                            f"the table has {len(inputs)} and {len(outputs)}")
            continue
        tests = []
        for column, entry in zip(inputs, entries, strict=True):
            try:
                tests.append(parse_unary_tests(entry.findtext("{*}text")))
            except FeelError as exc:
                problems.append(f"{here}, input {column.label!r}: {exc}")
                tests.append(AnyValue())
        values = []
        for output, entry in zip(outputs, results, strict=True):
            try:
                value = parse_simple_expression(entry.findtext("{*}text"))
            except FeelError as exc:
                problems.append(f"{here}, output {output.name!r}: {exc}")
                value = Literal(None)
            if output.values is not None and isinstance(value, Literal) and not output.values.matches(value.value, {}):
                problems.append(f"{here}, output {output.name!r}: {from_value(value.value)!r} is not one of "
                                f"its declared values")
            values.append(value)
        rules.append(Rule(number, element.get("id") or "", tests, values))
    result = DecisionTable(decision.get("id"), decision.get("name") or decision.get("id"), policy, aggregation,
                           inputs, outputs, rules)
    if policy == "UNIQUE":
        for a, b in combinations(rules, 2):
            if all(_may_overlap(x, y) for x, y in zip(a.tests, b.tests, strict=True)):
                problems.append(f"{where}: rules {a.number} ({a.rule_id}) and {b.number} ({b.rule_id}) can both "
                                f"match the same inputs, but the hit policy is UNIQUE")
    return result


# typeRefs whose values we check, as FEEL and Camunda Modeler name them; others (item
# definitions) are not checked.
TYPES = {"string", "number", "integer", "long", "double", "boolean", "date", "dateTime", "date and time"}


def _is_type(value: Any, type_ref: str) -> bool:
    """Does a (non-null) input value have the input's declared type? Dates and date-times
    may come as ISO 8601 text, as process variables carry them."""
    if type_ref == "string":
        return isinstance(value, str)
    if type_ref == "boolean":
        return isinstance(value, bool)
    if type_ref in ("integer", "long"):
        return isinstance(value, Decimal) and value == value.to_integral_value()
    if type_ref in ("number", "double"):
        return isinstance(value, Decimal)
    if type_ref == "date":
        return isinstance(value, date) or isinstance(value, str) and (
            feel_date(value) is not None or feel_date_and_time(value) is not None)
    return isinstance(value, datetime) or isinstance(value, str) and feel_date_and_time(value) is not None


def _kind_of(value: Any) -> str:
    return {bool: "boolean", str: "text", Decimal: "number", date: "date", datetime: "date and time"}.get(
        type(value), type(value).__name__)


def _failed(rule: Rule, values: list[Any], variables: dict[str, Any], absent: set[int]) -> set[int] | None:
    """None when the rule matches; else the absent inputs it failed on, or an empty set
    when a given input failed it (it could not apply whatever the absent ones are)."""
    failed = set()
    for i, (test, value) in enumerate(zip(rule.tests, values, strict=True)):
        if not test.matches(value, variables):
            if i not in absent:
                return set()
            failed.add(i)
    return failed or None


def _given(expression: Any, variables: dict[str, Any]) -> bool:
    """Is the variable an input expression reads present (even as null) in the variables?"""
    path = getattr(expression, "path", None)
    if path is None or path in variables:
        return True
    value: Any = variables
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


def _knowledge_models(root: etree._Element, names: set[str], problems: list[str]) -> dict[str, KnowledgeModel]:
    """The file's business knowledge models by id, each a function of its formal parameters."""
    elements = root.findall("{*}businessKnowledgeModel")
    scope: dict[str, Any] = {}
    models = {}
    model_names = {b.get("name") for b in elements if b.get("name")}
    for element in elements:
        name = element.get("name") or element.get("id")
        where = f"business knowledge model {element.get('id')} ({name})"
        logic = element.find("{*}encapsulatedLogic")
        if logic is None:
            problems.append(f"{where}: has no encapsulated logic")
            continue
        parameters = [p.get("name") for p in logic.findall("{*}formalParameter")]
        literal, table = logic.find("{*}literalExpression"), logic.find("{*}decisionTable")
        try:
            if literal is not None:
                model_parameters = {p.get("name") for b in elements for p in b.iter("{*}formalParameter")}
                body = parse_expression(literal.findtext("{*}text"), names | model_parameters, model_names)
            elif table is not None:
                body = _parse_table(element, table, where, problems)
            else:
                problems.append(f"{where}: only literal expressions and decision tables are supported as its logic")
                continue
        except FeelError as exc:
            problems.append(f"{where}: {exc}")
            continue
        models[element.get("id")] = scope[name] = KnowledgeModel(name, parameters, body, scope)
    return models


def _may_overlap(a, b) -> bool:
    """Could one input value pass both tests? Unknown (variables, negations) counts as yes."""
    if isinstance(a, AnyValue) or isinstance(b, AnyValue):
        return True
    if a.negated or b.negated:
        if a.negated and b.negated:
            return True
        positive, negative = (b, a) if a.negated else (a, b)
        return any(not _covered(t, negative.tests) for t in positive.tests)
    return any(_pair_overlaps(x, y) for x in a.tests for y in b.tests)


def _covered(test, negated_tests) -> bool:
    """Is every value passing ``test`` excluded by the negation (so no overlap)?"""
    if isinstance(test, Compare) and test.op == "=" and isinstance(test.endpoint, Literal):
        return any(_pair_overlaps(test, n) for n in negated_tests)
    return False


def _bounds(test):
    """(low, low_closed, high, high_closed) of a numeric test, or None."""
    if isinstance(test, Interval) and isinstance(test.low, Literal) and isinstance(test.high, Literal):
        return test.low.value, test.low_closed, test.high.value, test.high_closed
    if isinstance(test, Compare) and isinstance(test.endpoint, Literal) \
            and isinstance(test.endpoint.value, (Decimal, date)):
        v = test.endpoint.value
        return {"=": (v, True, v, True), "<": (None, False, v, False), "<=": (None, False, v, True),
                ">": (v, False, None, False), ">=": (v, True, None, False)}.get(test.op)
    return None


def _tighter(a, b, later: bool):
    """Of two bounds (value, closed), the tighter: the later low or the earlier high."""
    if a[0] is None:
        return b
    if b[0] is None:
        return a
    if a[0] == b[0]:
        return a[0], a[1] and b[1]
    return max(a, b, key=lambda v: v[0]) if later else min(a, b, key=lambda v: v[0])


def _kind(value) -> str:
    return "date-time" if isinstance(value, datetime) else "date" if isinstance(value, date) else "number"


def _is_point(test) -> bool:
    return isinstance(test, Compare) and test.op == "=" and isinstance(test.endpoint, Literal)


def _pair_overlaps(x, y) -> bool:
    bx, by = _bounds(x), _bounds(y)
    if bx and by and len({_kind(v) for v in (bx[0], bx[2], by[0], by[2]) if v is not None}) > 1:
        return False  # a number and a date, or a date and a date-time, never meet
    if bx and by:
        low = _tighter((bx[0], bx[1]), (by[0], by[1]), later=True)
        high = _tighter((bx[2], bx[3]), (by[2], by[3]), later=False)
        if low[0] is None or high[0] is None:
            return True
        return low[0] < high[0] or (low[0] == high[0] and low[1] and high[1])
    if _is_point(x) and _is_point(y):
        return x.endpoint.value == y.endpoint.value
    if (bx and _is_point(y)) or (by and _is_point(x)):
        return False  # a number range and a text/boolean/null value never meet
    return True


def from_source(source: bytes) -> dict[str, Any]:
    from .xmlsafe import parse_xml

    return {t.key: t for t in parse_tables(parse_xml(source, 1 << 24))}


__all__ = ["DecisionTable", "NoAnswer", "TableError", "from_source", "parse_tables", "to_value", "OneOf"]
