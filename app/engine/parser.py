"""Deployment parsing: uploaded BPMN and DMN files become versionable, serializable specs.

Camunda Modeler is what process owners have, so diagrams are read as it writes them:
`camunda:formData` fields, `camunda:candidateGroups`, `camunda:assignee`, `camunda:dueDate`,
and lanes whose `candidateGroups` extension property names the group that works them.
Everything a later step needs (groups, form fields, due-date expressions) goes into the
task spec's `extensions`, which SpiffWorkflow serializes; plain attributes it would drop.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator, full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.bpmn.specs.defaults import ScriptTask
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser, UserTaskParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.bpmn.serializer.default.task_spec import MultiInstanceTaskConverter
from SpiffWorkflow.camunda.serializer.event_definition import MessageEventDefinitionConverter
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException

from ..calendar import to_london
from . import messages
from .multiinstance import PathwaysCallActivityParser, ScopedParallelMultiInstanceTask
from .decision_tables import TableError, parse_tables
from .expressions import check_expression
from .xmlsafe import XmlRejected, parse_xml

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
DMN_NAMESPACES = {
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
}
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}
# "children": the family's children, a list of {childId, dateOfBirth, name} (forms.py checks it).
FIELD_TYPES = {"string", "long", "boolean", "date", "enum", "children"}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_JUEL = re.compile(r"^\s*\$\{(.*)\}\s*$", re.DOTALL)
# `${...}` parts of a task's name or documentation (runtime.Engine works them out).
NAME_EXPRESSION = re.compile(r"\$\{(.*?)\}")

CONFIG = {**CAMUNDA_CONFIG, messages.MessageEvent: MessageEventDefinitionConverter,
          ScopedParallelMultiInstanceTask: MultiInstanceTaskConverter}
REGISTRY = BpmnWorkflowSerializer.configure(CONFIG)


class DeploymentRejected(Exception):
    """A deployment that must not happen; ``errors`` maps each file name to its problems."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        count = sum(len(v) for v in errors.values())
        super().__init__(f"{count} problem(s) in {len(errors)} file(s)")


@dataclass
class ParsedProcess:
    key: str
    name: str
    source_file: str
    source_xml: str
    spec: dict[str, Any]
    content_hash: str
    # Each group named for user tasks (not worked out by an expression) → those tasks.
    groups: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ParsedDecision:
    key: str
    name: str
    source_file: str
    source_xml: str
    content_hash: str


@dataclass
class ParsedDeployment:
    processes: list[ParsedProcess] = field(default_factory=list)
    decisions: list[ParsedDecision] = field(default_factory=list)


def expression_in(text: str | None) -> str | None:
    """The expression of a value written as `${expr}`, or None for a plain value."""
    match = _JUEL.match(text or "")
    return match.group(1).strip() if match else None


def unwrap(expression: str | None) -> str | None:
    """`${expr}` as Camunda Modeler users type it, or a bare expression, gives `expr`."""
    if expression is None:
        return None
    match = _JUEL.match(expression)
    return (match.group(1) if match else expression).strip()


def _camunda(node: etree._Element, name: str) -> str | None:
    value = node.get(f"{{{CAMUNDA_NS}}}{name}")
    return value.strip() if value and value.strip() else None


def form_fields(node: etree._Element) -> list[dict[str, Any]]:
    """The `camunda:formData` fields of a task or start event, as plain dicts."""
    fields = []
    for xml_field in node.iterfind("bpmn:extensionElements/camunda:formData/camunda:formField", NS):
        constraints = {
            c.get("name"): c.get("config")
            for c in xml_field.iterfind("camunda:validation/camunda:constraint", NS)
        }
        properties = {
            p.get("id"): p.get("value")
            for p in xml_field.iterfind("camunda:properties/camunda:property", NS)
        }
        fields.append({
            "id": xml_field.get("id") or "",
            "label": xml_field.get("label") or xml_field.get("id") or "",
            "type": xml_field.get("type") or "string",
            "required": "required" in constraints,
            "readonly": "readonly" in constraints,
            # Camunda's min/max/minlength/maxlength, and mustBe (a boolean that must be given
            # as that value, e.g. "the police attended").
            "constraints": {k: v for k, v in constraints.items() if k not in ("required", "readonly")},
            "options": [
                {"id": v.get("id"), "name": v.get("name") or v.get("id")}
                for v in xml_field.iterfind("camunda:value", NS)
            ],
            "defaultValue": xml_field.get("defaultValue"),
            "properties": properties,
        })
    return fields


def _lane_groups(node: etree._Element) -> list[str]:
    """Groups of the innermost lane holding ``node`` (a lane's `candidateGroups` property)."""
    node_id = node.get("id")
    lanes = node.getroottree().getroot().xpath(
        ".//bpmn:lane[bpmn:flowNodeRef[normalize-space(text())=$id]]", namespaces=NS, id=node_id
    )
    for lane in reversed(lanes):
        for prop in lane.iterfind("bpmn:extensionElements/camunda:properties/camunda:property", NS):
            if prop.get("name") == "candidateGroups" and prop.get("value"):
                return _split(prop.get("value"))
    return []


ASSESSMENT_PROPERTY = "timescale.assessment"


def assessment_timescale(node: etree._Element) -> str | None:
    """A step that is an assessment says so with the property `timescale.assessment`: its
    timescale in working days, a whole number or `${expression}` (e.g. the 10 or 35 days
    decided in supervision). The manager view lists these steps as open assessments."""
    for prop in node.iterfind("bpmn:extensionElements/camunda:properties/camunda:property", NS):
        if prop.get("name") == ASSESSMENT_PROPERTY:
            return (prop.get("value") or "").strip()
    return None


def _assessment_problem(value: str) -> str | None:
    if value.isdigit() and int(value) > 0:
        return None
    if _JUEL.match(value):
        msg = check_expression(unwrap(value))
        return f"{ASSESSMENT_PROPERTY} expression: {msg}" if msg else None
    return f"{ASSESSMENT_PROPERTY} must be a whole number of working days or ${{expression}}, not {value!r}"


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


class PathwaysUserTaskParser(messages.RegisterParsing, UserTaskParser):
    """Keeps roles, assignee, due date and form fields where the serializer will keep them."""

    def parse_extensions(self, node=None):
        extensions = super().parse_extensions(node)
        declared = _camunda(self.node, "candidateGroups")
        # "${expression}" (e.g. the receiving team's group) is evaluated when the task is ready.
        groups = [declared.strip()] if declared and _JUEL.match(declared.strip()) else \
            _split(declared) or _lane_groups(self.node)
        extensions.update({
            "candidateGroups": groups,
            "candidateUsers": _split(_camunda(self.node, "candidateUsers")),
            "assignee": _camunda(self.node, "assignee"),
            "dueDate": unwrap(_camunda(self.node, "dueDate")),
            "formKey": _camunda(self.node, "formKey"),
            "formFields": form_fields(self.node),
            "outputs": output_parameters(self.node),
        })
        if (days := assessment_timescale(self.node)) is not None:
            # Only where set, so diagrams without it serialize (and hash) as before.
            extensions["assessmentDays"] = days
        return extensions


def output_parameters(node: etree._Element) -> dict[str, str]:
    """Camunda's output mapping of a task: variable name → expression, worked out when the
    task completes (e.g. a count of the TAFs held)."""
    return {
        p.get("name") or "": unwrap(p.text) or ""
        for p in node.iterfind("bpmn:extensionElements/camunda:inputOutput/camunda:outputParameter", NS)
    }


class DecisionTaskParser(CamundaTaskParser):
    """A business rule task runs a deployed decision: the latest version, or the one
    deployed with the diagram (`camunda:decisionRefBinding="deployment"`)."""

    def create_task(self):
        # An automatic task the engine runs on its own; Engine._before_complete fills in the outputs
        # just before it completes.
        return self.spec_class(self.spec, self.bpmn_id, script="pass", **self.bpmn_attributes)

    @staticmethod
    def get_decision_ref(node):
        # SpiffWorkflow's dependency scan asks every business rule task parser for this.
        return node.get(f"{{{CAMUNDA_NS}}}decisionRef")

    def parse_extensions(self, node=None):
        extensions = super().parse_extensions(node)
        key = _camunda(self.node, "decisionRef")
        if not key:
            self.raise_validation_exception(f"business rule task {self.bpmn_id} has no camunda:decisionRef")
        hashes = getattr(self.process_parser.parser, "decision_hashes", {})
        if key not in hashes:
            self.raise_validation_exception(
                f"business rule task {self.bpmn_id} refers to decision {key!r}, "
                f"which is neither deployed nor in this deployment"
            )
        # Camunda's binding: "latest" (the default) evaluates the newest deployed version, so
        # a changed threshold applies at once; "deployment" keeps the version deployed with
        # this diagram.
        binding = _camunda(self.node, "decisionRefBinding") or "latest"
        if binding not in ("latest", "deployment"):
            self.raise_validation_exception(
                f"business rule task {self.bpmn_id}: decisionRefBinding {binding!r} is not supported; "
                f"use latest or deployment"
            )
        extensions.update({"decisionRef": key, "decisionBinding": binding})
        if binding == "deployment":
            extensions["decisionHash"] = hashes[key]
        return extensions


def _replace_parser(tag: str, parser_class: type) -> tuple[type, type]:
    return parser_class, CamundaParser.OVERRIDE_PARSER_CLASSES[full_tag(tag)][1]


class PathwaysParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (PathwaysUserTaskParser, UserTask),
        full_tag("startEvent"): _replace_parser("startEvent", messages.START),
        full_tag("endEvent"): _replace_parser("endEvent", messages.END),
        full_tag("intermediateCatchEvent"): _replace_parser("intermediateCatchEvent", messages.CATCH),
        full_tag("intermediateThrowEvent"): _replace_parser("intermediateThrowEvent", messages.THROW),
        full_tag("boundaryEvent"): _replace_parser("boundaryEvent", messages.BOUNDARY),
        # Decisions run through our own evaluator (see runtime.Engine), not SpiffWorkflow's.
        full_tag("businessRuleTask"): (DecisionTaskParser, ScriptTask),
        full_tag("callActivity"): _replace_parser("callActivity", PathwaysCallActivityParser),
    }


def _content_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _is_dmn(root: etree._Element) -> bool:
    return etree.QName(root).namespace in DMN_NAMESPACES


ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
MODELER_NS = "http://camunda.org/schema/modeler/1.0"
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


def _decision_ref(node: etree._Element) -> str | None:
    return _camunda(node, "decisionRef")


def dmn_outputs(root: etree._Element) -> dict[str, set[str]]:
    """Each decision of a DMN document → the names it sets (its table's outputs, or a
    literal expression's variable)."""
    return {d.get("id"): {o.get("name") for o in d.iter("{*}output") if o.get("name")}
            | {v.get("name") for v in d.iter("{*}variable") if v.get("name")}
            for d in root.findall("{*}decision")}


def _label(node: etree._Element) -> str:
    kind = re.sub(r"(?<!^)(?=[A-Z])", " ", etree.QName(node).localname).lower()
    return f"{kind} {node.get('id')} ({node.get('name') or 'unnamed'})"


def _camunda_8(root: etree._Element) -> bool:
    return (root.get(f"{{{MODELER_NS}}}executionPlatform") == "Camunda Cloud"
            or any(isinstance(n.tag, str) and etree.QName(n).namespace == ZEEBE_NS for n in root.iter()))


def _check_unsupported(process: etree._Element, called: set[str]) -> list[str]:
    """Camunda 7 elements and settings the engine would not run as the diagram means."""
    problems = []
    for node in process.iter():
        if not isinstance(node.tag, str):
            continue
        tag = etree.QName(node)
        if tag.namespace == BPMN_NS and tag.localname in ("serviceTask", "sendTask"):
            problems.append(f"{_label(node)}: {tag.localname[:-4]} tasks are not run by Pathways (it calls no "
                            f"services): use a user task for what someone does, or a business rule task for a "
                            f"decision table")
            continue
        if tag.namespace == BPMN_NS and tag.localname == "scriptTask":
            language = (node.get("scriptFormat") or "python").lower()
            if language not in ("python", "python3"):
                problems.append(f"{_label(node)}: scripts in {language} are not run by Pathways (a script task's "
                                f"script is Python)")
        if tag.namespace == CAMUNDA_NS and tag.localname in _UNSUPPORTED_ELEMENTS:
            owner = node.getparent().getparent()
            problems.append(f"{_label(owner)}: {_UNSUPPORTED_ELEMENTS[tag.localname]}")
        if tag.namespace == BPMN_NS:
            for name, why in _UNSUPPORTED_ATTRIBUTES.items():
                if node.get(f"{{{CAMUNDA_NS}}}{name}"):
                    problems.append(f"{_label(node)}: camunda:{name} is not supported: {why}")
        if tag.namespace == BPMN_NS and tag.localname in ("exclusiveGateway", "inclusiveGateway"):
            problems += _check_gateway(process, node)
        if tag.namespace == BPMN_NS and tag.localname == "callActivity":
            target = node.get("calledElement")
            if target and target not in called:
                problems.append(
                    f"{_label(node)} calls process {target!r}, which is not in this deployment: deploy "
                    f"{target}'s file with it (a process is deployed with the processes it calls, even "
                    f"one deployed before)")
    return problems


def _check_gateway(process: etree._Element, gateway: etree._Element) -> list[str]:
    """Each way out of a gateway that chooses, but its default, needs a condition: the
    engine would refuse the diagram without saying which flow. And where every way out of an
    exclusive gateway without a default tests one choice field against its options, each
    option needs a way: a case answered with one left out would have nowhere to go."""
    outgoing = [f for f in process.iterfind("bpmn:sequenceFlow", NS) if f.get("sourceRef") == gateway.get("id")]
    if len(outgoing) < 2:
        return []
    problems = [f"{_label(gateway)}: sequence flow {flow.get('id')} ({flow.get('name') or 'unnamed'}) has no "
                f"condition: give it one, or make it the gateway's default flow"
                for flow in outgoing
                if flow.get("id") != gateway.get("default") and flow.find("bpmn:conditionExpression", NS) is None]
    if problems or gateway.get("default") or etree.QName(gateway).localname != "exclusiveGateway":
        return problems
    tested = [_choice_test(unwrap(flow.findtext("bpmn:conditionExpression", "", NS)) or "") for flow in outgoing]
    choices = _choice_fields(process)
    if all(tested) and len({name for name, _ in tested}) == 1 and (name := tested[0][0]) in choices:
        # An option a loop's condition tests goes round the loop, never reaching the gateway.
        looping = {value for el in process.iter(f"{{{BPMN_NS}}}loopCondition", f"{{{BPMN_NS}}}completionCondition")
                   for tested_name, values in _comparisons(unwrap(el.text) or "") if tested_name == name
                   for value in values}
        covered = {value for _, values in tested for value in values} | looping
        missing = [option for option in choices[name] if option not in covered]
        if missing:
            problems.append(f"{_label(gateway)}: no way on when {name} is {', '.join(map(repr, missing))}: give "
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
    if isinstance(node, ast.Name):
        return node.id
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "variable"
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return node.args[0].value
    return None


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


def _check_choice_conditions(process: etree._Element, decided: set[str] | None) -> list[str]:
    """A condition comparing a choice field with a value that is not one of its options (the
    option's name, or "Yes" for `yes`) is never true: a case would not go that way. Not for a
    name something else may set too (a decision's output, an output parameter); ``decided``:
    the outputs of the decisions the process may run, None if some are not known here."""
    if decided is None:
        return []
    set_otherwise = decided | {name for node in process.iter() if isinstance(node.tag, str)
                               for name in output_parameters(node)}
    choices = {name: options for name, options in _choice_fields(process).items() if name not in set_otherwise}
    problems = []
    for flow in process.iterfind("bpmn:sequenceFlow", NS):
        condition = unwrap(flow.findtext("bpmn:conditionExpression", None, NS))
        for name, values in _comparisons(condition or ""):
            for value in values:
                if name in choices and value not in choices[name]:
                    problems.append(f"sequence flow {flow.get('id')} ({flow.get('name') or 'unnamed'}): its condition "
                                    f"compares {name} with {value!r}, which is not one of its options "
                                    f"({', '.join(choices[name])})")
    return problems


def _check_bpmn(root: etree._Element, called: set[str] | None = None,
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
        problems += _check_unsupported(process, called if called is not None else set())
        for node in process.iter(f"{{{BPMN_NS}}}userTask"):
            label = f"user task {node.get('id')} ({node.get('name') or 'unnamed'})"
            if not (_split(_camunda(node, "candidateGroups")) or _lane_groups(node)):
                problems.append(
                    f"{label} has no role: put it in a lane with a candidateGroups property "
                    f"or set camunda:candidateGroups"
                )
            due = _camunda(node, "dueDate")
            if due and (msg := check_expression(unwrap(due))):
                problems.append(f"{label}: due date expression: {msg}")
            assignee = _camunda(node, "assignee")
            if assignee and _JUEL.match(assignee) and (msg := check_expression(unwrap(assignee))):
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
        refs = {_decision_ref(node) for node in process.iter(f"{{{BPMN_NS}}}businessRuleTask")}
        known = decision_outputs or {}
        decided = None if refs - set(known) else {name for ref in refs for name in known[ref]}
        problems += _check_choice_conditions(process, decided)
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
                if kind in _TIMER_KINDS and (msg := _timer_problem(kind, timer_expression(kind, expr.text))):
                    problems.append(f"timer {owner.get('id')} ({owner.get('name') or 'unnamed'}): {msg}")
    return problems


# A timer's value as Camunda Modeler takes it: a bare ISO 8601 duration, cycle or date.
_TIMER_KINDS = {
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
    if _TIMER_KINDS[kind][0].match(expression):
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
    _, what, example = _TIMER_KINDS[kind]
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
        if match := _ASSIGNEE_VARIABLE.match(_camunda(node, "assignee") or ""):
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
        if not _IDENTIFIER.match(name) or name in _RESERVED_VARIABLES:
            problems.append(f"{label}: output parameter {name!r} is not a variable name a diagram may set")
        elif msg := check_expression(expression):
            problems.append(f"{label}: output parameter {name!r}: {msg}")
    return problems


def _check_form(label: str, fields: list[dict[str, Any]]) -> list[str]:
    problems, seen = [], set()
    for f in fields:
        if not _IDENTIFIER.match(f["id"]):
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
        if condition is not None and _JUEL.match(condition):
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


def _unwrap_expressions(root: etree._Element) -> None:
    """Accept `${...}` around conditions and timers, and timers' bare ISO values, as Camunda
    Modeler users write them."""
    for tag in ("conditionExpression", "completionCondition"):
        for el in root.iter(f"{{{BPMN_NS}}}{tag}"):
            if el.text:
                el.text = unwrap(el.text)
    for kind in _TIMER_KINDS:
        for el in root.iter(f"{{{BPMN_NS}}}{kind}"):
            if el.text:
                el.text = timer_expression(kind, el.text)


def _end_property(root: etree._Element, name: str) -> dict[str, str]:
    """End event id → its extension property ``name`` (empty if given without a value)."""
    return {end.get("id"): prop.get("value") or "" for end in root.iter(f"{{{BPMN_NS}}}endEvent")
            for prop in end.iterfind("bpmn:extensionElements/camunda:properties/camunda:property", NS)
            if prop.get("name") == name}


def _end_outcomes(root: etree._Element) -> dict[str, str]:
    return {end: value for end, value in _end_property(root, "outcome").items() if value}


def serialize_spec(parser: CamundaParser, key: str) -> dict[str, Any]:
    spec = parser.get_spec(key)
    subprocess_specs = parser.get_subprocess_specs(key)
    return {
        "spec": REGISTRY.convert(spec),
        "subprocessSpecs": {name: REGISTRY.convert(s) for name, s in subprocess_specs.items()},
    }


def parse_deployment(
    files: list[tuple[str, bytes]],
    max_file_bytes: int,
    deployed_decisions: dict[str, str] | None = None,
    document_kinds: list[str] | None = None,
    deployed_processes: set[str] | None = None,
    deployed_decision_outputs: dict[str, set[str]] | None = None,
    deployed_specs: dict[str, dict[str, Any]] | None = None,
) -> ParsedDeployment:
    """Parse and validate a whole deployment; raise DeploymentRejected listing every problem.

    ``deployed_decisions`` maps decision keys already deployed to their content hash, so a
    diagram may refer to a decision deployed earlier; ``deployed_processes``, the process
    keys already deployed, which a diagram may hand a case over to.
    """
    errors: dict[str, list[str]] = {}
    bpmn_roots: list[tuple[str, etree._Element, bytes]] = []
    dmn_roots: list[tuple[str, etree._Element, bytes]] = []
    if not files:
        raise DeploymentRejected({"(request)": ["no files: send .bpmn and .dmn files as multipart 'files'"]})
    for name, data in files:
        if not name.lower().endswith((".bpmn", ".dmn", ".bpmn20.xml")):
            errors.setdefault(name, []).append("only .bpmn and .dmn files can be deployed")
            continue
        try:
            root = parse_xml(data, max_file_bytes)
        except XmlRejected as exc:
            errors.setdefault(name, []).append(str(exc))
            continue
        if _is_dmn(root):
            dmn_roots.append((name, root, data))
        elif etree.QName(root).namespace == BPMN_NS and etree.QName(root).localname == "definitions":
            bpmn_roots.append((name, root, data))
        else:
            errors.setdefault(name, []).append(
                f"not a BPMN 2.0 or DMN document (root element {etree.QName(root).text})"
            )

    parser = PathwaysParser(validator=BpmnValidator())
    uploaded_decisions: dict[str, ParsedDecision] = {}
    for name, root, data in dmn_roots:
        try:
            parse_tables(root)
        except TableError as exc:
            errors.setdefault(name, []).extend(exc.problems)
            continue
        for decision in root.findall("{*}decision"):
            key = decision.get("id")
            if key in uploaded_decisions:
                # A backup copy beside the edited table: which one is meant cannot be guessed.
                first = uploaded_decisions[key].source_file
                for file in (first, name):
                    errors.setdefault(file, []).append(
                        f"decision {key} is in both {first} and {name}: deploy one of them")
                continue
            uploaded_decisions[key] = ParsedDecision(
                key=key,
                name=decision.get("name") or key,
                source_file=name,
                source_xml=data.decode("utf-8"),
                content_hash=hashlib.sha256(etree.tostring(root, method="c14n")).hexdigest(),
            )
    parser.decision_hashes = {
        **(deployed_decisions or {}),
        **{key: decision.content_hash for key, decision in uploaded_decisions.items()},
    }

    process_files: list[tuple[str, etree._Element, bytes, list[str]]] = []
    in_deployment = {p.get("id") for _, root, _ in bpmn_roots for p in root.iterfind("bpmn:process", NS)}
    decision_outputs = {**(deployed_decision_outputs or {}),
                        **{key: names for _, root, _ in dmn_roots for key, names in dmn_outputs(root).items()}}
    for name, root, data in bpmn_roots:
        problems = _check_bpmn(root, in_deployment, decision_outputs)
        if document_kinds is not None:
            for node in root.iter():
                for kind in (messages.documents(node) if isinstance(node.tag, str) else []):
                    if kind not in document_kinds:
                        problems.append(f"{node.get('id')}: no document template {kind!r} "
                                        f"(there are: {', '.join(document_kinds)})")
        if problems:
            errors.setdefault(name, []).extend(problems)
            continue
        _unwrap_expressions(root)
        try:
            parser.add_bpmn_xml(root, filename=name)
        except (ValidationException, SpiffWorkflowException, etree.LxmlError) as exc:
            errors.setdefault(name, []).append(_message(exc))
            continue
        keys = [p.get("id") for p in root.iterfind("bpmn:process", NS) if p.get("isExecutable") == "true"]
        if not keys:
            errors.setdefault(name, []).append("no executable process (isExecutable=\"true\")")
        process_files.append((name, root, data, keys))

    known = (deployed_processes or set()) | {key for *_, keys in process_files for key in keys}
    for name, root, _, _ in process_files:
        for end, target in _end_property(root, "handOverTo").items():
            if not target or target not in known:
                errors.setdefault(name, []).append(
                    f"end event {end} hands the case over to {target!r}, a process neither in this "
                    f"deployment nor deployed before")
    result = ParsedDeployment(decisions=list(uploaded_decisions.values()))
    outcomes_by_process = {key: _end_outcomes(root) for _, root, _, keys in process_files for key in keys}
    for name, root, data, keys in process_files:
        outcomes = _end_outcomes(root)
        for key in keys:
            try:
                serialized = serialize_spec(parser, key)
            except (ValidationException, SpiffWorkflowException, KeyError) as exc:
                errors.setdefault(name, []).append(_message(exc))
                continue
            start_node = root.find(f"bpmn:process[@id='{key}']/bpmn:startEvent", NS)
            serialized["startForm"] = form_fields(start_node) if start_node is not None else []
            # A called process's end events carry outcomes too: "called:endId".
            called = {f"{other}:{end}": value for other in serialized["subprocessSpecs"]
                      for end, value in outcomes_by_process.get(other, {}).items()}
            serialized["outcomes"] = {**outcomes, **called}
            process = root.find(f"bpmn:process[@id='{key}']", NS)
            groups: dict[str, list[str]] = {}
            for node in process.iter(f"{{{BPMN_NS}}}userTask"):
                for group in _split(_camunda(node, "candidateGroups")) or _lane_groups(node):
                    if "${" not in group:
                        groups.setdefault(group, []).append(_label(node))
            result.processes.append(ParsedProcess(
                key=key,
                name=process.get("name") or key,
                source_file=name,
                source_xml=data.decode("utf-8"),
                spec=serialized,
                content_hash=_content_hash(serialized),
                groups=groups,
            ))
    _check_hand_overs(result, deployed_specs or {}, decision_outputs, errors)
    if errors:
        raise DeploymentRejected(errors)
    return result


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


def _check_hand_overs(result: ParsedDeployment, deployed_specs: dict[str, dict[str, Any]],
                      decision_outputs: dict[str, set[str]], errors: dict[str, list[str]]) -> None:
    """A process that hands cases over must be able to give what the receiving process's start
    form requires; else the step ending the case there would be refused for ever, the case
    held by nobody. Checked both ways: the sender deployed, or the receiver's form changed."""
    new = {p.key: p for p in result.processes}
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


def _message(exc: Exception) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return re.sub(r"\s+", " ", text)
