"""Running instances: start, complete a user task, deliver a message, cancel.

Every operation takes the stored state (a plain dict) and returns a Snapshot of plain
data: the new state and what the rest of the application projects from it (ready user
tasks, waiting timers, the trail of activities the engine passed, the variables).
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask, StandardLoopTask
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import TaskState

from ..calendar import WorkingCalendar, to_london
from .clock import frozen_at, operation_now
from .expressions import create_script_engine, names_read
from .messages import MessageEvent
from .bpmn_xml import NAME_EXPRESSION, expression_in, unwrap
from .parser import CONFIG, REGISTRY

# Engine-internal task specs (the implicit start/end and boundary splits) have no BPMN id.
_SILENT_SPECS = {"ExclusiveGateway", "InclusiveGateway", "ParallelGateway", "EventBasedGateway"}


# A deployed version's stored spec, or a function that loads it (only needed on a cache miss).
StoredSpec = dict[str, Any] | Callable[[], dict[str, Any]]


class EngineError(Exception):
    """The diagram could not be run as asked; the message is for a person."""


class TaskNotActive(EngineError):
    pass


class DecisionFailed(EngineError):
    """A decision could not give an answer; nothing may advance on a guess."""

    def __init__(self, decision: str, reason: str, inputs: dict[str, Any] | None = None):
        self.decision = decision
        self.reason = reason
        self.inputs = inputs or {}
        shown = ", ".join(f"{k}={v!r}" for k, v in sorted(self.inputs.items()))
        super().__init__(f"decision {decision} failed: {reason}" + (f" (inputs: {shown})" if shown else ""))


class NothingWaiting(EngineError):
    pass


@dataclass
class Snapshot:
    state: dict[str, Any]
    variables: dict[str, Any]
    completed: bool
    user_tasks: list[dict[str, Any]]
    timers: list[dict[str, Any]]
    trail: list[dict[str, Any]] = field(default_factory=list)
    outcome: str | None = None


class _StateConverter(BpmnWorkflowConverter):
    """The workflow without its spec: specs are stored once per deployed version."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def restore_with_spec(self, dct, spec, subprocess_specs):
        # The dict is consumed: callers pass state freshly loaded from the database.
        workflow = BpmnWorkflow(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_STATE_REGISTRY = BpmnWorkflowSerializer.configure({**CONFIG, BpmnWorkflow: _StateConverter})
_STATE = _StateConverter(BpmnWorkflow, _STATE_REGISTRY)


def _iso_now(now: datetime) -> str:
    return now.astimezone(timezone.utc).isoformat()


class Engine:
    def __init__(self, calendar: WorkingCalendar, clock: Callable[[], datetime] | None = None):
        self.calendar = calendar
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.script_engine = create_script_engine(calendar)
        # Set by the app: evaluates a decision pinned by (key, content hash); see decisions.py.
        self.decisions: Any = None
        self._specs: dict[int, tuple[Any, dict[str, Any], dict[str, str]]] = {}
        self._specs_lock = threading.Lock()

    # -- specs -------------------------------------------------------------------------

    def _spec(self, definition_id: int, stored: StoredSpec):
        """The restored spec of a deployed version; ``stored`` is its stored dict, or a
        function returning it, called only the first time this version is seen."""
        cached = self._specs.get(definition_id)
        if cached is None:
            # Deployed specs never change, so one restored copy per version serves every instance.
            with self._specs_lock:
                cached = self._specs.get(definition_id)
                if cached is None:
                    data = stored() if callable(stored) else stored
                    cached = (
                        REGISTRY.restore(data["spec"]),
                        {k: REGISTRY.restore(v) for k, v in data.get("subprocessSpecs", {}).items()},
                        data.get("outcomes", {}),
                        data.get("startForm", []),
                    )
                    self._specs[definition_id] = cached
        return cached

    def start_form(self, definition_id: int, stored: StoredSpec) -> list[dict[str, Any]]:
        return self._spec(definition_id, stored)[3]

    def evaluate(self, expression: str, context: dict[str, Any], what: str = "requiredWhen") -> Any:
        """A diagram expression over ``context`` outside any task (a form's `requiredWhen`,
        worked out as the form is submitted)."""
        try:
            return self.script_engine.environment.evaluate(expression, context)
        except Exception as exc:  # the script engine wraps everything a diagram can raise
            raise EngineError(f"{what} ({expression!r}) could not be evaluated: {_describe(exc)}") from exc

    def _restore(self, definition_id: int, stored: StoredSpec, state: dict[str, Any]) -> BpmnWorkflow:
        spec, subprocess_specs, *_ = self._spec(definition_id, stored)
        workflow = _STATE.restore_with_spec(state, spec, subprocess_specs)
        workflow.script_engine = self.script_engine
        return workflow

    # -- operations --------------------------------------------------------------------

    def start(self, definition_id: int, stored: StoredSpec, variables: dict[str, Any]) -> Snapshot:
        spec, subprocess_specs, *_ = self._spec(definition_id, stored)
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)
        workflow.script_engine = self.script_engine
        start = workflow.get_next_task(state=TaskState.READY)
        if start is not None:
            start.set_data(**variables)
        trail: list[dict[str, Any]] = []
        self._advance(workflow, trail)
        return self._snapshot(definition_id, stored, workflow, trail)

    def complete_task(
        self,
        definition_id: int,
        stored: StoredSpec,
        state: dict[str, Any],
        task_id: str,
        variables: dict[str, Any],
        user: str | None,
    ) -> Snapshot:
        workflow = self._restore(definition_id, stored, state)
        task = self._ready_user_task(workflow, task_id)
        now = _iso_now(self.clock())
        activity = task.task_spec.bpmn_id
        task.set_data(**variables)
        # Later due dates and timers count from when a step was done ("E" of the timescales).
        task.data["completedAt"] = {**task.data.get("completedAt", {}), activity: now}
        task.data["completedBy"] = {**task.data.get("completedBy", {}), activity: user}
        # Output mapping (camunda:outputParameter), in the order the diagram gives.
        for name, expression in (task.task_spec.extensions.get("outputs") or {}).items():
            task.data[name] = self._evaluate(task, expression, f"output parameter {name}")
        trail: list[dict[str, Any]] = []
        self._run(task.run)
        extensions = task.task_spec.extensions
        if extensions.get("register") or extensions.get("documents"):
            step = {"taskId": str(task.id), "activityId": activity, "name": task.task_spec.bpmn_name,
                    "type": "UserTask", "at": now, "documents": extensions.get("documents", [])}
            if extensions.get("register"):
                step["register"] = self._register_values(task, extensions["register"])
            trail.append(step)
        self._advance(workflow, trail)
        return self._snapshot(definition_id, stored, workflow, trail)

    def deliver_message(
        self,
        definition_id: int,
        stored: StoredSpec,
        state: dict[str, Any],
        message_name: str,
        variables: dict[str, Any],
    ) -> Snapshot:
        workflow = self._restore(definition_id, stored, state)
        waiting = [
            t for t in workflow.get_tasks(state=TaskState.WAITING)
            if isinstance(getattr(t.task_spec, "event_definition", None), MessageEvent)
            and t.task_spec.event_definition.name == message_name
        ]
        if not waiting:
            raise NothingWaiting(f"instance is not waiting for message {message_name!r}")
        event_definition = waiting[0].task_spec.event_definition
        trail: list[dict[str, Any]] = []
        self._run(lambda: workflow.send_event(BpmnEvent(event_definition, payload=dict(variables))))
        self._advance(workflow, trail)
        return self._snapshot(definition_id, stored, workflow, trail)

    def fire_timers(self, definition_id: int, stored: StoredSpec, state: dict[str, Any],
                    as_of: datetime) -> Snapshot:
        """Fire every timer of the instance due by ``as_of`` and run on from there."""
        workflow = self._restore(definition_id, stored, state)
        trail: list[dict[str, Any]] = []
        # SpiffWorkflow fires a timer only strictly after its due time.
        self._run(workflow.refresh_timers, at=as_of + timedelta(microseconds=1))
        # What follows (durations of timers reached now) counts from as_of itself.
        self._advance(workflow, trail, at=as_of)
        return self._snapshot(definition_id, stored, workflow, trail, at=as_of)

    def cancel(self, definition_id: int, stored: StoredSpec, state: dict[str, Any]) -> Snapshot:
        workflow = self._restore(definition_id, stored, state)
        workflow.cancel()
        return self._snapshot(definition_id, stored, workflow, [])

    # -- internals ---------------------------------------------------------------------

    def _run(self, action: Callable[[], Any], at: datetime | None = None) -> None:
        """Run engine steps as of ``at`` (default: now by the engine clock)."""
        try:
            with frozen_at(at or self.clock()):
                action()
        except EngineError:
            raise
        except SpiffWorkflowException as exc:
            raise EngineError(_no_way_on(exc) or _describe(exc)) from exc
        except Exception as exc:
            # SpiffWorkflow reads a timer's value outside its own exceptions: a bare Exception
            # for a duration or cycle that is not ISO 8601, ValueError or TypeError for a date
            # (one without its offset). The diagram gave a value it cannot use: say so, as
            # for any expression, rather than fail as if Pathways were broken.
            if type(exc) not in (ValueError, TypeError, Exception):
                raise
            raise EngineError(f"the diagram gave a value the engine cannot use ({_describe(exc)}): "
                              f"a timer's value must be an ISO 8601 date and time, duration or cycle") from exc

    def _before_complete(self, task) -> None:
        """Before a business rule task completes, run its decision into the task's data.
        Before an end event with an outcome completes, record it as the variable `outcome`:
        a process that called this one routes on it (and it is fresh on every call, unlike
        variables left from an earlier pass)."""
        extensions = getattr(task.task_spec, "extensions", None) or {}
        if "outcome" in extensions:
            task.data["outcome"] = extensions["outcome"]
        if "decisionRef" not in extensions:
            return
        if self.decisions is None:
            raise DecisionFailed(extensions["decisionRef"], "no decision evaluator is configured")
        outputs = self.decisions.outputs(extensions["decisionRef"], extensions.get("decisionHash"), dict(task.data))
        task.data.update(outputs)
        task.internal_data["decisionOutputs"] = outputs

    def _recorder(self, trail: list[dict[str, Any]], at: datetime) -> Callable[[Any], None]:
        """Note each BPMN activity the engine passes, for the instance's history."""

        def record(task):
            spec = task.task_spec
            if getattr(spec, "bpmn_id", None) and spec.__class__.__name__ not in _SILENT_SPECS:
                entry = {
                    "taskId": str(task.id),
                    "activityId": spec.bpmn_id,
                    "name": spec.bpmn_name,
                    "type": spec.__class__.__name__,
                    "at": _iso_now(at),
                }
                due = _timer_due(task)
                if due is not None:
                    entry["timerDue"] = due
                extensions = getattr(spec, "extensions", None) or {}
                if "decisionRef" in extensions:
                    entry["decision"] = task.internal_data.get("decisionOutputs", {})
                if extensions.get("register"):
                    entry["register"] = self._register_values(task, extensions["register"])
                if extensions.get("documents"):
                    entry["documents"] = extensions["documents"]
                if extensions.get("handOverTo"):
                    entry["handOverTo"] = extensions["handOverTo"]
                trail.append(entry)

        return record

    def _advance(self, workflow: BpmnWorkflow, trail: list[dict[str, Any]], at: datetime | None = None) -> None:
        at = at or self.clock()
        record = self._recorder(trail, at)

        def steps():
            # do_engine_steps refreshes the timers only after its steps: a timer whose time
            # passed before a worker fired it would be made ready there but not run, and drop
            # out of the schedule (its escalation lost until the next action on the case).
            # Refreshed first, it runs with the steps. (A timer the steps reach is checked as
            # it is reached: one already due runs with them too.)
            workflow.refresh_timers()
            workflow.do_engine_steps(will_complete_task=self._before_complete, did_complete_task=record)

        self._run(steps, at)

    def _register_values(self, task, actions: dict[str, str]) -> dict[str, Any]:
        """A step's register changes with their `${...}` expressions evaluated."""
        values = {}
        for key, value in actions.items():
            values[key] = self._evaluate(task, unwrap(value), f"register {key}") if value.startswith("${") else value
        return values

    def _ready_user_task(self, workflow: BpmnWorkflow, task_id: str):
        try:
            task = workflow.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError, TypeError):
            task = None
        if task is None or not task.task_spec.manual:
            raise TaskNotActive(f"task {task_id} is not a task of this instance")
        if task.state != TaskState.READY:
            raise TaskNotActive(f"task {task_id} is {TaskState.get_name(task.state).lower()}, not active")
        return task

    def _evaluate(self, task, expression: str, what: str) -> Any:
        return self._evaluate_in(task, expression, None, what)

    def _evaluate_in(self, task, expression: str, context: dict[str, Any] | None, what: str) -> Any:
        try:
            if context is None:
                return self.script_engine.evaluate(task, expression)
            return self.script_engine.environment.evaluate(expression, context)
        except Exception as exc:  # the script engine wraps everything a diagram can raise
            raise EngineError(
                f"{what} of {task.task_spec.bpmn_id} ({expression!r}) could not be evaluated: {_describe(exc)}"
            ) from exc

    def _user_task(self, task, variables: dict[str, Any]) -> dict[str, Any]:
        ext = task.task_spec.extensions
        # Assignee and groups are computed once, when the task becomes ready, and kept; so is
        # the due date, until a variable it reads changes (a manager agreeing an extension).
        if "pathways" not in task.internal_data:
            assignee = ext.get("assignee")
            if assignee and assignee.startswith("${"):
                assignee = self._evaluate(task, unwrap(assignee), "assignee")
            groups = list(ext.get("candidateGroups") or [])
            if len(groups) == 1 and groups[0].startswith("${"):
                value = self._evaluate(task, unwrap(groups[0]), "candidate groups")
                groups = [str(g) for g in value] if isinstance(value, (list, tuple)) else \
                    [g.strip() for g in str(value or "").split(",") if g.strip()]
            task.internal_data["pathways"] = {
                "name": self._interpolate(task, task.task_spec.bpmn_name, "name"),
                "documentation": self._interpolate(task, task.task_spec.documentation, "documentation"),
                "scope": _instance_scope(task),
                "assignee": str(assignee) if assignee else None,
                "groups": groups,
                "readyAt": _iso_now(operation_now()),
                "assessmentDays": self._assessment_days(task, ext.get("assessmentDays")),
                "bounds": self._date_bounds(task, ext.get("formFields") or [], variables),
            }
            self._due(task, ext.get("dueDate"), variables, first=True)
        elif ext.get("dueDate"):
            self._due(task, ext["dueDate"], variables, first=False)
        extra = task.internal_data["pathways"]
        return {
            "id": str(task.id),
            "activityId": task.task_spec.bpmn_id,
            "name": extra.get("name") or task.task_spec.bpmn_name or task.task_spec.bpmn_id,
            "documentation": extra.get("documentation", task.task_spec.documentation),
            "lane": task.task_spec.lane,
            "candidateGroups": extra.get("groups", list(ext.get("candidateGroups") or [])),
            "candidateUsers": list(ext.get("candidateUsers") or []),
            "assignee": extra["assignee"],
            "due": extra["due"],
            "readyAt": extra["readyAt"],
            "formFields": _with_scope(_with_bounds(ext.get("formFields") or [], extra.get("bounds") or {}),
                                      extra.get("scope")),
            "assessmentDays": extra.get("assessmentDays"),
        }

    def _interpolate(self, task, text: str | None, what: str) -> str | None:
        """A name or documentation with `${...}` parts (Camunda's name expressions), worked
        out when the task is ready: "See ${...}" names the child of a per-child cadence."""
        if not text or "${" not in text:
            return text
        return NAME_EXPRESSION.sub(lambda m: str(self._evaluate(task, m.group(1).strip(), what)), text)

    def _assessment_days(self, task, timescale: str | None) -> int | None:
        """An assessment step's timescale in working days, fixed when the step is ready."""
        if not timescale:
            return None
        value = int(timescale) if timescale.isdigit() else \
            self._evaluate(task, unwrap(timescale), "assessment timescale")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise EngineError(f"assessment timescale of {task.task_spec.bpmn_id} ({timescale!r}) "
                              f"is not a number of working days: {value!r}") from None

    def _context(self, task, variables: dict[str, Any]) -> dict[str, Any]:
        """The task's own variables, and the instance's for names its branch has not
        recorded (a manager's decision in a parallel branch: an extension agreed)."""
        return {**variables, **task.data}

    def _due(self, task, expression: str | None, variables: dict[str, Any], first: bool) -> None:
        extra = task.internal_data["pathways"]
        if not expression:
            extra.setdefault("due", None)
            return
        # Only the names the expression reads, looked up as _context would: every snapshot does
        # this for every ready task, and the whole context is built only to evaluate.
        reads = _fingerprint({name: task.data[name] if name in task.data else variables[name]
                              for name in names_read(expression) if name in task.data or name in variables})
        if not first and "reads" not in extra:
            extra["reads"] = reads  # a task made ready before due dates were re-evaluated
            return
        if not first and extra["reads"] == reads:
            return
        value = self._evaluate_in(task, expression, self._context(task, variables), "due date")
        extra["due"] = to_london(value).isoformat() if value else None
        extra["reads"] = reads

    def _date_bounds(self, task, fields: list[dict[str, Any]], variables: dict[str, Any]) -> dict[str, Any]:
        """`notBefore` / `notAfter` of date fields, worked out as dates when the task is ready."""
        bounds: dict[str, Any] = {}
        for f in fields:
            for name in ("notBefore", "notAfter"):
                expression = f.get("properties", {}).get(name)
                if expression and f["type"] == "date":
                    value = self._evaluate_in(task, unwrap(expression), self._context(task, variables),
                                              f"{name} of form field {f['id']}")
                    if value:
                        bounds.setdefault(f["id"], {})[name] = to_london(value).date().isoformat()
        return bounds

    def _timers(self, tasks: list) -> list[dict[str, Any]]:
        timers = []
        for task in tasks:
            if task.state != TaskState.WAITING:
                continue
            spec = task.task_spec
            definition = getattr(spec, "event_definition", None)
            if not isinstance(definition, TimerEventDefinition) or not isinstance(spec, CatchingEvent):
                continue
            due = _due_of(task)
            if not due:
                continue
            kind = spec.__class__.__name__
            if kind == "BoundaryEvent":
                kind = "boundary" if spec.cancel_activity else "boundary-non-interrupting"
            elif kind == "StartEvent":
                kind = "start"
            else:
                kind = "intermediate"
            attached = getattr(spec, "attached_to", None)
            timers.append({
                "id": str(task.id),
                "activityId": spec.bpmn_id,
                "name": spec.bpmn_name or definition.name,
                "kind": kind,
                "dueAt": due,
                "attachedTo": attached,
            })
        return timers

    def _variables(self, workflow: BpmnWorkflow, tasks: list) -> dict[str, Any]:
        # Branches each carry their own copy of the data; the instance's variables are
        # what every branch has recorded, the most recent value winning.
        variables: dict[str, Any] = dict(workflow.data)
        reached = TaskState.COMPLETED | TaskState.READY | TaskState.WAITING | TaskState.STARTED
        for task in sorted((t for t in tasks if t.state & reached), key=lambda t: t.last_state_change):
            variables.update(task.data)
        return variables

    def _snapshot(self, definition_id, stored, workflow: BpmnWorkflow, trail, at: datetime | None = None) -> Snapshot:
        # Due dates of new tasks are computed here, as of the operation's instant.
        with frozen_at(at or self.clock()):
            return self._take_snapshot(definition_id, stored, workflow, trail)

    def _take_snapshot(self, definition_id, stored, workflow: BpmnWorkflow, trail) -> Snapshot:
        outcomes = self._spec(definition_id, stored)[2]
        # One walk of the task tree serves everything below: it is the costly part.
        tasks = workflow.get_tasks()
        variables = self._variables(workflow, tasks)
        user_tasks = [self._user_task(t, variables) for t in tasks
                      if t.state == TaskState.READY and t.task_spec.manual]
        completed = workflow.is_completed()
        outcome = None
        if completed:
            # The last end event reached that names an outcome: the process's own, or one of a
            # process it called (a parent ending without an outcome passes the called one on).
            ended = [
                (t.last_state_change, outcomes[key]) for t in tasks
                if t.state == TaskState.COMPLETED and t.task_spec.__class__.__name__ == "EndEvent"
                and (key := _outcome_key(t, workflow)) in outcomes
            ]
            if ended:
                outcome = max(ended, key=lambda pair: pair[0])[1]
        timers = self._timers(tasks)
        if outcome:
            variables["outcome"] = outcome
        return Snapshot(
            state=_STATE.to_dict(_compact(workflow, tasks)),
            variables=variables,
            completed=completed,
            user_tasks=user_tasks,
            timers=timers,
            trail=trail,
            outcome=outcome,
        )


def _fingerprint(values: dict[str, Any]) -> str:
    # A digest, not the values: completedAt alone grows with every step of a case.
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _instance_scope(task) -> dict[str, Any]:
    """The element variables of the multi-instance activities the task runs inside (the
    child of a per-child cadence), which are the task's own and not the case's: a form's
    `requiredWhen` reads them rather than whichever instance recorded one last."""
    scope: dict[str, Any] = {}
    current = task
    while current is not None:
        parent = current.parent
        spec = getattr(parent, "task_spec", None)
        if isinstance(spec, MultiInstanceTask) and spec.input_item is not None:
            scope.setdefault(spec.input_item.bpmn_id, current.data.get(spec.input_item.bpmn_id))
        if parent is None:
            # Out of a sub-process to the task that called it.
            parent_id = getattr(current.workflow, "parent_task_id", None)
            parent = current.workflow.top_workflow.get_task_from_id(parent_id) if parent_id else None
        current = parent
    return scope


def _with_scope(fields: list[dict[str, Any]], scope: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Fields with a `${...}` requiredWhen carry the task's instance scope for forms.validate."""
    if not scope:
        return fields
    return [{**f, "scope": scope} if expression_in(f.get("properties", {}).get("requiredWhen")) else f
            for f in fields]


def _with_bounds(fields: list[dict[str, Any]], bounds: dict[str, Any]) -> list[dict[str, Any]]:
    """The form fields, each date field carrying its bounds as dates for the form to check."""
    return [{**f, **bounds[f["id"]]} if f["id"] in bounds else f for f in fields]


def _compact(workflow: BpmnWorkflow, tasks: list) -> BpmnWorkflow:
    """Drop the finished iterations of standard loops from the state.

    A case that lives for years repeats its cycles (TAF reviews, visits) hundreds of times;
    SpiffWorkflow keeps every finished iteration and its sub-process, so each step would
    cost more than the last. A finished iteration's data is already merged into the loop
    and its history is in the audit trail, so nothing that runs later reads it. ``tasks`` is
    the snapshot's one walk of the task tree (walking it again would double the cost).
    """
    _drop_orphans(workflow)
    # Events nothing in the instance caught (every visit's terminate end event), kept by
    # SpiffWorkflow for a caller's get_events(); Pathways never reads them, so they only grow.
    workflow.bpmn_events = []
    attached = {id(workflow)} | {id(sp) for sp in workflow.subprocesses.values()}
    for task in tasks:
        if not isinstance(task.task_spec, StandardLoopTask) or id(task.workflow) not in attached:
            continue
        merged = task.internal_data.get("merged", [])
        merged_ids = set(merged)
        for child in list(task.children):
            if str(child.id) in merged_ids and child.has_state(TaskState.FINISHED_MASK):
                if child.id in workflow.subprocesses:
                    workflow.delete_subprocess(child)
                child.workflow._remove_task(child.id)
        # The loop counts its iterations by the length of this list (its maximum, each
        # iteration's number) and reads nothing else of it: a dropped iteration keeps its
        # place, empty, instead of its id (38 bytes a cycle for the life of the case).
        present = {str(child.id) for child in task.children}
        if any(m and m not in present for m in merged_ids):
            task.internal_data["merged"] = [m if m in present else "" for m in merged]
    return workflow


def _due_of(task) -> Any:
    """A timer event task's due time from its event value (ISO when it is text): a cycle's
    next one, none once a cycle has run out."""
    value = task.internal_data.get("event_value")
    if isinstance(task.task_spec.event_definition, CycleTimerEventDefinition) and isinstance(value, dict):
        value = value.get("next") if value.get("cycles") != 0 else None
    if not value:
        return None
    return TimerEventDefinition.get_datetime(value).isoformat() if isinstance(value, str) else value


def _timer_due(task) -> str | None:
    """When a timer event that has just fired was due (ISO), or None for any other task or a
    cycle. The projection records one that fired the moment it was reached, with no timer row."""
    definition = getattr(task.task_spec, "event_definition", None)
    if not isinstance(definition, TimerEventDefinition) or isinstance(definition, CycleTimerEventDefinition):
        return None
    due = _due_of(task)
    return due if isinstance(due, str) else None


def _drop_orphans(workflow: BpmnWorkflow) -> None:
    """Sub-processes whose task is gone (a terminate end event cancelled it, and
    SpiffWorkflow dropped the task but kept its sub-process): nothing can reach them."""
    changed = True
    while changed:
        changed = False
        for task_id in list(workflow.subprocesses):
            if not _task_exists(workflow, task_id):
                del workflow.subprocesses[task_id]
                changed = True


def _task_exists(workflow: BpmnWorkflow, task_id) -> bool:
    if task_id in workflow.tasks:
        return True
    return any(task_id in sp.tasks for sp in workflow.subprocesses.values())


def _outcome_key(task, workflow: BpmnWorkflow) -> str:
    if task.workflow is workflow:
        return task.task_spec.bpmn_id
    return f"{task.workflow.spec.name}:{task.task_spec.bpmn_id}"


def _no_way_on(exc: SpiffWorkflowException) -> str | None:
    """A gateway none of whose ways on fits the answers given, in words for whoever gave them
    (the diagram is missing a way, or a default): the step is refused and nothing changes."""
    if not str(exc).startswith("No conditions satisfied"):
        return None
    task = getattr(exc, "task", None)
    spec = getattr(exc, "task_spec", None) or getattr(task, "task_spec", None)
    where = f"{spec.bpmn_name or spec.bpmn_id}" if getattr(spec, "bpmn_id", None) else "a decision point"
    return (f"The pathway has no way on from {where!r} for these answers, so nothing was saved: check the "
            f"answers, and tell the process owner (the diagram needs a way on, or a default, for them)")


def _describe(exc: Exception) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    notes = getattr(exc, "__notes__", None) or []
    return " ".join([text, *notes])
