"""What a deployment is refused for: what SpiffWorkflow would accept but run otherwise than
drawn, or a process owner would regret (a case stuck with nowhere to go, a task in nobody's
tray, a timer that cannot be set). Each problem names the element and what to do."""
from __future__ import annotations

import ast
import re
from datetime import datetime
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from ..calendar import to_london
from .bpmn_xml import (
    ASSESSMENT_PROPERTY,
    BPMN_NS,
    CAMUNDA_NS,
    FIELD_TYPES,
    IDENTIFIER,
    JUEL,
    MODELER_NS,
    NAME_EXPRESSION,
    NS,
    ZEEBE_NS,
    assessment_timescale,
    camunda_attr,
    decision_ref,
    element_label,
    form_fields,
    lane_groups,
    output_parameters,
    split_list,
    unwrap,
)
from .expressions import check_expression, variable_read


def _assessment_problem(value: str) -> str | None:
    if value.isdigit() and int(value) > 0:
        return None
    if JUEL.match(value):
        msg = check_expression(unwrap(value))
        return f"{ASSESSMENT_PROPERTY} expression: {msg}" if msg else None
    return f"{ASSESSMENT_PROPERTY} must be a whole number of working days or ${{expression}}, not {value!r}"


# Camunda 7 settings Pathways would not act on: refused by name rather than ignored.
_UNSUPPORTED_ATTRIBUTES = {
    "formKey": "a form key (an embedded or external form): give the task Form fields (camunda:formData)",
    "formRef": "Camunda Forms (camunda:formRef): give the task Form fields (camunda:formData)",
    "followUpDate": "a follow-up date: the inbox orders tasks by their due date (camunda:dueDate)",
    "priority": "a task priority: the inbox orders tasks by their due date (camunda:dueDate)",
    "class": "a Java class: Pathways runs no Java",
    "delegateExpression": "a Java delegate: Pathways runs no Java",
    "type": "an external task for a worker to fetch: Pathways has no external task workers",
}


_UNSUPPORTED_ELEMENTS = {
    "taskListener": "a task listener: it would not run; if someone must be told, give them a task",
    "executionListener": "an execution listener: it would not run; if someone must be told, give them a task",
    "connector": "a connector: Pathways calls no services",
}


def _camunda_8(root: etree._Element) -> bool:
    return (root.get(f"{{{MODELER_NS}}}executionPlatform") == "Camunda Cloud"
            or any(isinstance(n.tag, str) and etree.QName(n).namespace == ZEEBE_NS for n in root.iter()))


def _check_unsupported(process: etree._Element, called: set[str], choices: dict[str, list[str]]) -> list[str]:
    """Camunda 7 elements and settings the engine would not run as the diagram means;
    ``choices``: the process's choice fields (_choice_fields)."""
    problems = []
    for node in process.iter():
        if not isinstance(node.tag, str):
            continue
        tag = etree.QName(node)
        if tag.namespace == BPMN_NS and tag.localname in ("serviceTask", "sendTask"):
            problems.append(f"{element_label(node)}: {tag.localname[:-4]} tasks are not run by Pathways (it calls no "
                            f"services): use a user task for what someone does, or a business rule task for a "
                            f"decision table")
            continue
        if tag.namespace == BPMN_NS and tag.localname == "scriptTask":
            language = (node.get("scriptFormat") or "python").lower()
            if language not in ("python", "python3"):
                problems.append(f"{element_label(node)}: scripts in {language} are not run by Pathways "
                                f"(a script task's script is Python)")
        if tag.namespace == CAMUNDA_NS and tag.localname in _UNSUPPORTED_ELEMENTS:
            owner = node.getparent().getparent()
            problems.append(f"{element_label(owner)}: {_UNSUPPORTED_ELEMENTS[tag.localname]}")
        if tag.namespace == BPMN_NS:
            for name, why in _UNSUPPORTED_ATTRIBUTES.items():
                if node.get(f"{{{CAMUNDA_NS}}}{name}"):
                    problems.append(f"{element_label(node)}: camunda:{name} is not supported: {why}")
        if tag.namespace == BPMN_NS and tag.localname in ("exclusiveGateway", "inclusiveGateway"):
            problems += _check_gateway(process, node, choices)
        if tag.namespace == BPMN_NS and tag.localname == "callActivity":
            target = node.get("calledElement")
            if target and target not in called:
                problems.append(
                    f"{element_label(node)} calls process {target!r}, which is not in this deployment: deploy "
                    f"{target}'s file with it (a process is deployed with the processes it calls, even "
                    f"one deployed before)")
    return problems


def _check_gateway(process: etree._Element, gateway: etree._Element, choices: dict[str, list[str]]) -> list[str]:
    """Each way out of a gateway that chooses, but its default, needs a condition: the
    engine would refuse the diagram without saying which flow. And where every way out of an
    exclusive gateway without a default tests one choice field against its options, each
    option needs a way: a case answered with one left out would have nowhere to go."""
    outgoing = [f for f in process.iterfind("bpmn:sequenceFlow", NS) if f.get("sourceRef") == gateway.get("id")]
    if len(outgoing) < 2:
        return []
    problems = [f"{element_label(gateway)}: {element_label(flow)} has no condition: give it one, or make it the "
                f"gateway's default flow"
                for flow in outgoing
                if flow.get("id") != gateway.get("default") and flow.find("bpmn:conditionExpression", NS) is None]
    if problems or gateway.get("default") or etree.QName(gateway).localname != "exclusiveGateway":
        return problems
    tested = [_choice_test(unwrap(flow.findtext("bpmn:conditionExpression", "", NS)) or "") for flow in outgoing]
    if all(tested) and len({name for name, _ in tested}) == 1 and (name := tested[0][0]) in choices:
        # An option a loop's condition tests goes round the loop, never reaching the gateway.
        looping = {value for el in process.iter(f"{{{BPMN_NS}}}loopCondition", f"{{{BPMN_NS}}}completionCondition")
                   for tested_name, values in _comparisons(unwrap(el.text) or "") if tested_name == name
                   for value in values}
        covered = {value for _, values in tested for value in values} | looping
        missing = [option for option in choices[name] if option not in covered]
        if missing:
            problems.append(f"{element_label(gateway)}: no way on when {name} is {', '.join(map(repr, missing))}: give "
                            f"{'that option' if len(missing) == 1 else 'those options'} a flow, or make one flow "
                            f"the gateway's default")
    return problems


def _choice_fields(process: etree._Element) -> dict[str, list[str]]:
    """The process's choice (enum) form fields → their option ids."""
    choices: dict[str, list[str]] = {}
    for node in process.iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}startEvent"):
        for f in form_fields(node):
            if f["type"] == "enum":
                choices.setdefault(f["id"], [])
                choices[f["id"]] += [o["id"] for o in f["options"] if o["id"] not in choices[f["id"]]]
    return choices


def _tested_name(node: ast.AST) -> str | None:
    """`field`, or `variable("field")`."""
    return node.id if isinstance(node, ast.Name) else variable_read(node)


def _comparisons(expression: str) -> list[tuple[str, list[str]]]:
    """Each `name == "value"` / `name in ("a", "b")` in a condition: (name, values)."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and (name := _tested_name(node.left)):
            right = node.comparators[0]
            if isinstance(node.ops[0], (ast.Eq, ast.NotEq)) and isinstance(right, ast.Constant) \
                    and isinstance(right.value, str):
                found.append((name, [right.value]))
            elif isinstance(node.ops[0], (ast.In, ast.NotIn)) and isinstance(right, (ast.Tuple, ast.List, ast.Set)) \
                    and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in right.elts):
                found.append((name, [e.value for e in right.elts]))
    return found


def _choice_test(expression: str) -> tuple[str, list[str]] | None:
    """A condition that is only `field == "option"` or `field in ("a", "b")`: (field, options)."""
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(tree, ast.Compare) and len(tree.ops) == 1 and isinstance(tree.ops[0], (ast.Eq, ast.In)):
        found = _comparisons(expression)
        return found[0] if len(found) == 1 else None
    return None


def _check_choice_conditions(process: etree._Element, decided: set[str] | None,
                             choices: dict[str, list[str]]) -> list[str]:
    """A condition comparing a choice field with a value that is not one of its options (the
    option's name, or "Yes" for `yes`) is never true: a case would not go that way. Not for a
    name something else may set too (a decision's output, an output parameter); ``decided``:
    the outputs of the decisions the process may run, None if some are not known here."""
    if decided is None:
        return []
    set_otherwise = decided | {name for node in process.iter() if isinstance(node.tag, str)
                               for name in output_parameters(node)}
    choices = {name: options for name, options in choices.items() if name not in set_otherwise}
    problems = []
    for flow in process.iterfind("bpmn:sequenceFlow", NS):
        condition = unwrap(flow.findtext("bpmn:conditionExpression", None, NS))
        for name, values in _comparisons(condition or ""):
            for value in values:
                if name in choices and value not in choices[name]:
                    problems.append(f"{element_label(flow)}: its condition compares {name} with {value!r}, which "
                                    f"is not one of its options ({', '.join(choices[name])})")
    return problems


def check_bpmn(root: etree._Element, called: set[str] | None = None,
                decision_outputs: dict[str, set[str]] | None = None) -> list[str]:
    """What SpiffWorkflow would accept but run wrongly, or a process owner would regret.
    ``called``: the processes a call activity may call (those in the deployment);
    ``decision_outputs``: decision key → the names it sets, for the decisions known here."""
    if _camunda_8(root):
        return ["this diagram is for Camunda 8 (Zeebe); Pathways reads diagrams for Camunda 7 (in Camunda "
                "Modeler: File > New File > BPMN diagram (Camunda 7))"]
    problems: list[str] = []
    for process in root.iterfind("bpmn:process", NS):
        if process.get("isExecutable", "false") != "true":
            continue
        choices = _choice_fields(process)
        problems += _check_unsupported(process, called if called is not None else set(), choices)
        for node in process.iter(f"{{{BPMN_NS}}}userTask"):
            label = element_label(node)
            if not (split_list(camunda_attr(node, "candidateGroups")) or lane_groups(node)):
                problems.append(
                    f"{label} has no role: put it in a lane with a candidateGroups property "
                    f"or set camunda:candidateGroups"
                )
            due = camunda_attr(node, "dueDate")
            if due and (msg := check_expression(unwrap(due))):
                problems.append(f"{label}: due date expression: {msg}")
            assignee = camunda_attr(node, "assignee")
            if assignee and JUEL.match(assignee) and (msg := check_expression(unwrap(assignee))):
                problems.append(f"{label}: assignee expression: {msg}")
            timescale = assessment_timescale(node)
            if timescale is not None and (msg := _assessment_problem(timescale)):
                problems.append(f"{label}: {msg}")
            problems += _check_form(label, form_fields(node))
            problems += _check_outputs(label, node)
            for what, text in (("name", node.get("name")), ("documentation", node.findtext("bpmn:documentation", None, NS))):
                problems += [f"{label}: {what} expression: {msg}" for part in NAME_EXPRESSION.findall(text or "")
                             if (msg := check_expression(part))]
        for node in process.iter(f"{{{BPMN_NS}}}startEvent"):
            fields = form_fields(node)
            problems += _check_form(f"start event {node.get('id')}", fields)
            problems += [f"start event {node.get('id')}: form field {f['id']!r}: {name} is checked on user "
                         f"tasks only" for f in fields for name in ("notBefore", "notAfter")
                         if name in f["properties"]]
        problems += _check_assignee_fields(process)
        refs = {decision_ref(node) for node in process.iter(f"{{{BPMN_NS}}}businessRuleTask")}
        known = decision_outputs or {}
        decided = None if refs - set(known) else {name for ref in refs for name in known[ref]}
        problems += _check_choice_conditions(process, decided, choices)
        for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
            condition = flow.find("bpmn:conditionExpression", NS)
            if condition is not None and (msg := check_expression(unwrap(condition.text) or "")):
                problems.append(f"sequence flow {flow.get('id')}: condition: {msg}")
        for condition in process.iter(f"{{{BPMN_NS}}}completionCondition"):
            owner = condition.getparent().getparent()
            if msg := check_expression(unwrap(condition.text) or ""):
                problems.append(f"completion condition of {owner.get('id')}: {msg}")
        for timer in process.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
            owner = timer.getparent()
            for expr in timer:
                kind = etree.QName(expr).localname
                if kind in TIMER_KINDS and (msg := _timer_problem(kind, timer_expression(kind, expr.text))):
                    problems.append(f"timer {owner.get('id')} ({owner.get('name') or 'unnamed'}): {msg}")
    return problems


# A timer's value as Camunda Modeler takes it: a bare ISO 8601 duration, cycle or date.
TIMER_KINDS = {
    "timeDuration": (re.compile(r"^P(?=\d|T\d)[0-9A-Z.,]*$", re.I), "duration", '"P3D" or "PT24H"'),
    "timeCycle": (re.compile(r"^R\d*/\S+$", re.I), "repeating interval", '"R3/P1D"'),
    "timeDate": (re.compile(r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}(:?\d{2})?)?)?$", re.I),
                 "date and time", '"2027-01-04T09:00:00Z"'),
}


def timer_expression(kind: str, text: str | None) -> str:
    """A timer's expression: `${...}` unwrapped, and a bare ISO 8601 value (`P3D`, `R3/P1D`,
    `2027-01-04T09:00`) read as the text it is in Camunda, not as Python (where `P3D` is an
    unknown name and a date is a subtraction). A date given without its offset is London's."""
    expression = unwrap(text) or ""
    if TIMER_KINDS[kind][0].match(expression):
        expression = repr(expression)
    if kind == "timeDate" and isinstance(value := _literal(expression), str):
        try:
            if datetime.fromisoformat(value).tzinfo is None:
                expression = repr(to_london(value).isoformat())
        except ValueError:
            pass  # refused by _timer_problem
    return expression


def _literal(expression: str) -> Any:
    try:
        return ast.literal_eval(expression)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _timer_problem(kind: str, expression: str) -> str | None:
    """A timer's value written as text is checked now, as the engine will read it; an
    expression (`working_days(...)`) only as an expression, its value known when it runs."""
    value = _literal(expression)
    if value is None:
        return check_expression(expression)
    _, what, example = TIMER_KINDS[kind]
    try:
        if not isinstance(value, str):
            raise ValueError
        if kind == "timeDuration":
            TimerEventDefinition.parse_iso_duration(value)
        elif kind == "timeCycle":
            TimerEventDefinition.parse_iso_recurring_interval(value)
        else:
            datetime.fromisoformat(value)
    except Exception:  # SpiffWorkflow raises a bare Exception for a bad duration or cycle
        return f"{value!r} is not an ISO 8601 {what} such as {example}"
    return None


_ASSIGNEE_VARIABLE = re.compile(r"^\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}$")


def _check_assignee_fields(process: etree._Element) -> list[str]:
    """A form field whose answer becomes a task's assignee (`camunda:assignee="${field}"`)
    must say whose id it takes (`userInGroup`), so that a name mistyped, or someone outside
    the team, is refused when it is given, not found out when nobody does the visit."""
    assigned: dict[str, list[str]] = {}
    for node in process.iter(f"{{{BPMN_NS}}}userTask"):
        if match := _ASSIGNEE_VARIABLE.match(camunda_attr(node, "assignee") or ""):
            assigned.setdefault(match.group(1), []).append(node.get("id"))
    problems = []
    for node in process.iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}startEvent"):
        for f in form_fields(node):
            if f["id"] in assigned and not f["properties"].get("userInGroup", "").strip():
                problems.append(
                    f"{node.get('id')}: form field {f['id']!r} names the person given "
                    f"{', '.join(assigned[f['id']])} (camunda:assignee): give it a userInGroup property "
                    f"naming the group or groups whose members may be given them")
    return problems


# Set by the engine when a task completes; an output mapping writing them would falsify the record.
_RESERVED_VARIABLES = {"completedAt", "completedBy", "outcome"}


def _check_outputs(label: str, node: etree._Element) -> list[str]:
    problems = []
    if node.find("bpmn:extensionElements/camunda:inputOutput/camunda:inputParameter", NS) is not None:
        problems.append(f"{label}: camunda:inputParameter is not supported (output parameters are)")
    for name, expression in output_parameters(node).items():
        if not IDENTIFIER.match(name) or name in _RESERVED_VARIABLES:
            problems.append(f"{label}: output parameter {name!r} is not a variable name a diagram may set")
        elif msg := check_expression(expression):
            problems.append(f"{label}: output parameter {name!r}: {msg}")
    return problems


def _check_form(label: str, fields: list[dict[str, Any]]) -> list[str]:
    problems, seen = [], set()
    for f in fields:
        if not IDENTIFIER.match(f["id"]):
            problems.append(f"{label}: form field id {f['id']!r} is not a variable name")
        if f["id"] in seen:
            problems.append(f"{label}: form field {f['id']!r} appears twice")
        seen.add(f["id"])
        if f["type"] not in FIELD_TYPES:
            problems.append(
                f"{label}: form field {f['id']!r} has type {f['type']!r}; "
                f"use one of {', '.join(sorted(FIELD_TYPES))}"
            )
        if f["type"] == "enum" and not f["options"]:
            problems.append(f"{label}: enum form field {f['id']!r} has no values")
        condition = f["properties"].get("requiredWhen")
        if condition is not None and JUEL.match(condition):
            if msg := check_expression(unwrap(condition)):
                problems.append(f"{label}: form field {f['id']!r}: requiredWhen expression: {msg}")
        elif condition is not None:
            other = condition.partition("=")[0].strip()
            if "=" not in condition or other not in {g["id"] for g in fields}:
                problems.append(f"{label}: form field {f['id']!r}: requiredWhen must be 'field=value' naming a "
                                f"field of the same form")
        notice = f["properties"].get("noticeBefore")
        if notice is not None:
            other, _, amount = notice.partition(":")
            others = {g["id"]: g for g in fields}
            if (f["type"] != "date" or others.get(other.strip(), {}).get("type") != "date"
                    or not re.fullmatch(r"\d+w?", amount.strip())):
                problems.append(f"{label}: form field {f['id']!r}: noticeBefore must be 'field:N' (working days) or "
                                f"'field:Nw' (weeks) on a date field, naming another date field of the same form")
        if "userInGroup" in f["properties"] and (f["type"] != "string" or not f["properties"]["userInGroup"].strip()):
            problems.append(f"{label}: form field {f['id']!r}: userInGroup names groups (comma-separated), "
                            f"on a string field")
        today = f["properties"].get("notAfterToday")
        if today is not None and (f["type"] != "date" or today != "true"):
            problems.append(f"{label}: form field {f['id']!r}: notAfterToday must be 'true', on a date field")
        for name in ("notBefore", "notAfter"):
            expression = f["properties"].get(name)
            if expression is None:
                continue
            if f["type"] != "date":
                problems.append(f"{label}: form field {f['id']!r}: {name} applies to date fields, not {f['type']}")
            elif msg := check_expression(unwrap(expression) or ""):
                problems.append(f"{label}: form field {f['id']!r}: {name} expression: {msg}")
        for name, config in f["constraints"].items():
            problem = _constraint_problem(f["type"], name, config)
            if problem:
                problems.append(f"{label}: form field {f['id']!r}: {problem}")
    return problems


_CONSTRAINT_TYPES = {"min": ("long",), "max": ("long",), "minlength": ("string",), "maxlength": ("string",),
                     "mustBe": ("boolean",)}


def _constraint_problem(kind: str, name: str, config: str | None) -> str | None:
    """A constraint we would not enforce is refused rather than silently ignored."""
    if name not in _CONSTRAINT_TYPES:
        return f"constraint {name!r} is not supported (use {', '.join(['required', 'readonly', *_CONSTRAINT_TYPES])})"
    if kind not in _CONSTRAINT_TYPES[name]:
        return f"constraint {name!r} applies to {' or '.join(_CONSTRAINT_TYPES[name])} fields, not {kind}"
    if name == "mustBe":
        return None if config in ("true", "false") else "constraint 'mustBe' needs config true or false"
    if not (config or "").strip().lstrip("-").isdigit():
        return f"constraint {name!r} needs a whole number as its config"
    return None


def _extensions(spec: Any):
    """Every task spec's extensions in a serialized spec (its called processes' too)."""
    pending = [spec]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if isinstance(item.get("extensions"), dict):
                yield item["extensions"]
            pending += list(item.values())
        elif isinstance(item, list):
            pending += item


def _names_set(spec: dict[str, Any], decision_outputs: dict[str, set[str]]) -> set[str]:
    """The variables a process (with those it calls) can come to hold: its forms' fields, its
    output parameters and its decisions' outputs."""
    names = {f["id"] for f in spec.get("startForm", [])}
    for extensions in _extensions(spec):
        names |= {f["id"] for f in extensions.get("formFields") or []}
        names |= set(extensions.get("outputs") or {})
        names |= decision_outputs.get(extensions.get("decisionRef"), set())
    return names


def check_hand_overs(processes: list[Any], deployed_specs: dict[str, dict[str, Any]],
                     decision_outputs: dict[str, set[str]], errors: dict[str, list[str]]) -> None:
    """A process that hands cases over must be able to give what the receiving process's start
    form requires; else the step ending the case there would be refused for ever, the case
    held by nobody. Checked both ways: the sender deployed, or the receiver's form changed."""
    new = {p.key: p for p in processes}
    specs = {**deployed_specs, **{key: p.spec for key, p in new.items()}}
    for sender, spec in specs.items():
        targets = {e["handOverTo"] for e in _extensions(spec) if e.get("handOverTo")}
        for target in sorted(targets):
            if target not in specs or (sender not in new and target not in new):
                continue  # an unknown target is refused elsewhere; two deployed ones were checked then
            required = [f["id"] for f in specs[target].get("startForm", [])
                        if f.get("required") and not f.get("properties", {}).get("requiredWhen")]
            missing = sorted(set(required) - _names_set(spec, decision_outputs))
            if missing:
                file = new[sender].source_file if sender in new else new[target].source_file
                errors.setdefault(file, []).append(
                    f"{sender} hands cases over to {target}, whose start form requires {', '.join(missing)}, "
                    f"which {sender} never records: give {sender} a field for {'it' if len(missing) == 1 else 'them'} "
                    f"before the hand-over, or make {'it' if len(missing) == 1 else 'them'} not required in {target}")


def decision_input_warnings(changed: dict[str, set[str]], specs: dict[str, dict[str, Any]],
                            decision_outputs: dict[str, set[str]], filled_in: set[str]) -> list[str]:
    """A new version of a decision that reads a variable its earlier one did not (``changed``:
    decision → its new inputs) applies at once to every process bound to its latest version;
    one that never records that variable would put each case reaching the decision in
    incident. ``filled_in``: the inputs the case register answers. Said, not refused: the
    process may be about to be changed too, or the variable come from a message."""
    warnings = []
    for key, added in sorted(changed.items()):
        for process, spec in sorted(specs.items()):
            tasks = [e for e in _extensions(spec) if e.get("decisionRef") == key and e.get("decisionBinding") != "deployment"]
            missing = sorted(added - _names_set(spec, decision_outputs) - filled_in) if tasks else []
            if missing:
                warnings.append(f"decision {key} now reads {', '.join(missing)}, which {process} never records: its "
                                f"cases will go into incident when they reach the decision, until it does (or its "
                                f"business rule task is bound to the version deployed with it)")
    return warnings
