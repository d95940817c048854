"""Deployment parsing: uploaded BPMN and DMN files become versionable, serializable specs.

Camunda Modeler is what process owners have, so diagrams are read as it writes them
(bpmn_xml): `camunda:formData` fields, `camunda:candidateGroups`, `camunda:assignee`,
`camunda:dueDate`, and lanes whose `candidateGroups` extension property names the group that
works them. Everything a later step needs (groups, form fields, due-date expressions) goes
into the task spec's `extensions`, which SpiffWorkflow serializes; plain attributes it would
drop. What a deployment is refused for is diagram_checks'.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator, full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.bpmn.specs.defaults import ScriptTask
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser, UserTaskParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.bpmn.serializer.default.task_spec import MultiInstanceTaskConverter
from SpiffWorkflow.camunda.serializer.event_definition import MessageEventDefinitionConverter
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException

from . import messages
from .bpmn_xml import (
    BPMN_NS,
    CAMUNDA_NS,
    DMN_NAMESPACES,
    JUEL,
    NS,
    assessment_timescale,
    camunda_attr,
    dmn_inputs,
    dmn_outputs,
    element_label,
    end_outcomes,
    end_property,
    form_fields,
    lane_groups,
    output_parameters,
    split_list,
    unwrap,
)
from .decision_tables import TableError, parse_tables
from .diagram_checks import TIMER_KINDS, check_bpmn, check_hand_overs, timer_expression
from .multiinstance import PathwaysCallActivityParser, ScopedParallelMultiInstanceTask
from .xmlsafe import XmlRejected, parse_xml

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
    # The variables its inputs read, and the names it sets.
    inputs: set[str] = field(default_factory=set)
    outputs: set[str] = field(default_factory=set)


@dataclass
class ParsedDeployment:
    processes: list[ParsedProcess] = field(default_factory=list)
    decisions: list[ParsedDecision] = field(default_factory=list)


class PathwaysUserTaskParser(messages.RegisterParsing, UserTaskParser):
    """Keeps roles, assignee, due date and form fields where the serializer will keep them."""

    def parse_extensions(self, node=None):
        extensions = super().parse_extensions(node)
        declared = camunda_attr(self.node, "candidateGroups")
        # "${expression}" (e.g. the receiving team's group) is evaluated when the task is ready.
        groups = [declared.strip()] if declared and JUEL.match(declared.strip()) else \
            split_list(declared) or lane_groups(self.node)
        extensions.update({
            "candidateGroups": groups,
            "candidateUsers": split_list(camunda_attr(self.node, "candidateUsers")),
            "assignee": camunda_attr(self.node, "assignee"),
            "dueDate": unwrap(camunda_attr(self.node, "dueDate")),
            "formKey": camunda_attr(self.node, "formKey"),
            "formFields": form_fields(self.node),
            "outputs": output_parameters(self.node),
        })
        if (days := assessment_timescale(self.node)) is not None:
            # Only where set, so diagrams without it serialize (and hash) as before.
            extensions["assessmentDays"] = days
        return extensions


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
        key = camunda_attr(self.node, "decisionRef")
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
        binding = camunda_attr(self.node, "decisionRefBinding") or "latest"
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


def _unwrap_expressions(root: etree._Element) -> None:
    """Accept `${...}` around conditions and timers, and timers' bare ISO values, as Camunda
    Modeler users write them."""
    for tag in ("conditionExpression", "completionCondition"):
        for el in root.iter(f"{{{BPMN_NS}}}{tag}"):
            if el.text:
                el.text = unwrap(el.text)
    for kind in TIMER_KINDS:
        for el in root.iter(f"{{{BPMN_NS}}}{kind}"):
            if el.text:
                el.text = timer_expression(kind, el.text)


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
        inputs, outputs = dmn_inputs(root), dmn_outputs(root)
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
                inputs=inputs.get(key, set()),
                outputs=outputs.get(key, set()),
            )
    parser.decision_hashes = {
        **(deployed_decisions or {}),
        **{key: decision.content_hash for key, decision in uploaded_decisions.items()},
    }

    process_files: list[tuple[str, etree._Element, bytes, list[str]]] = []
    in_deployment = {p.get("id") for _, root, _ in bpmn_roots for p in root.iterfind("bpmn:process", NS)}
    decision_outputs = {**(deployed_decision_outputs or {}),
                        **{key: decision.outputs for key, decision in uploaded_decisions.items()}}
    for name, root, data in bpmn_roots:
        problems = check_bpmn(root, in_deployment, decision_outputs)
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
        for end, target in end_property(root, "handOverTo").items():
            if not target or target not in known:
                errors.setdefault(name, []).append(
                    f"end event {end} hands the case over to {target!r}, a process neither in this "
                    f"deployment nor deployed before")
    result = ParsedDeployment(decisions=list(uploaded_decisions.values()))
    outcomes_by_process = {key: end_outcomes(root) for _, root, _, keys in process_files for key in keys}
    for name, root, data, keys in process_files:
        outcomes = end_outcomes(root)
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
                for group in split_list(camunda_attr(node, "candidateGroups")) or lane_groups(node):
                    if "${" not in group:
                        groups.setdefault(group, []).append(element_label(node))
            result.processes.append(ParsedProcess(
                key=key,
                name=process.get("name") or key,
                source_file=name,
                source_xml=data.decode("utf-8"),
                spec=serialized,
                content_hash=_content_hash(serialized),
                groups=groups,
            ))
    check_hand_overs(result.processes, deployed_specs or {}, decision_outputs, errors)
    if errors:
        raise DeploymentRejected(errors)
    return result


def _message(exc: Exception) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return re.sub(r"\s+", " ", text)
