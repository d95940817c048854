"""Recurring cycles over a case's life (TAF reviews, visits) as standard loops: finished
iterations leave the engine state, so the hundredth cycle costs what the first did; timers
inside later iterations still fire. Through the API, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
from datetime import datetime

from app.extensions import db
from app.models import ProcessInstance
from app.services import timers
from conftest import ROOT
from test_deployments import deploy


def _state(app, instance_id: str) -> dict:
    with app.app_context():
        state = db.session.get(ProcessInstance, instance_id).state
        db.session.rollback()
        return state


def _task_count(state: dict) -> int:
    return len(state["tasks"]) + sum(len(sp["tasks"]) for sp in state.get("subprocesses", {}).values())


def _review(api, instance, number, decision="continue"):
    (task,) = [t for t in instance["activeTasks"] if t["activityId"] == "review"]
    response = api.as_("nel.ai.sw1").post(f"/tasks/{task['id']}/complete",
                                          {"variables": {"reviewDecision": decision, "reviewNumber": number}})
    assert response.status_code == 200, response.json
    return response.json


def test_three_hundred_cycles_keep_the_state_the_size_of_one(api, app):
    instance = api.post("/process-definitions/review_loop/start", {"businessKey": "LOOP-1"}).json
    sizes = {}
    for number in range(1, 301):
        instance = _review(api, instance, number)
        if number in (1, 100, 300):
            state = _state(app, instance["id"])
            sizes[number] = (_task_count(state), len(json.dumps(state)))
    # The same tasks after the 1st and the 300th cycle; the bytes grow only by the loop's
    # count of the iterations it has merged (an empty place each, 4 bytes).
    assert sizes[1][0] == sizes[100][0] == sizes[300][0]
    assert sizes[300][1] - sizes[100][1] < 200 * 6
    assert instance["variables"]["reviewNumber"] == 300
    instance = _review(api, instance, 301, decision="close")
    assert instance["status"] == "completed"
    history = api.get(f"/process-instances/{instance['id']}/history").json
    assert sum(1 for e in history if e["type"] == "task_completed" and e["activityId"] == "review") == 301


def test_a_timer_inside_a_late_iteration_fires(api, app):
    instance = api.post("/process-definitions/review_loop/start", {"businessKey": "LOOP-2"}).json
    for number in range(1, 51):
        instance = _review(api, instance, number)
    (late,) = [t for t in instance["timers"] if t["activityId"] == "review_late"]
    with app.app_context():
        fired = timers.run_due(app.extensions["pathways.engine"], datetime.fromisoformat(late["dueAt"]))
    assert fired == {"fired": 1}
    instance = api.get(f"/process-instances/{instance['id']}").json
    assert sorted(t["activityId"] for t in instance["activeTasks"]) == ["chase", "review"]


def test_a_loop_maximum_still_counts_the_iterations_the_state_dropped(api):
    # The loop's count of its iterations is what stops it at its maximum; the ids it kept of
    # them are gone from the state with the iterations themselves.
    diagram = (ROOT / "tests" / "fixtures" / "review_loop.bpmn").read_bytes()
    diagram = diagram.replace(b'processRef="review_loop"', b'processRef="review_loop_of_three"')
    diagram = diagram.replace(b'<bpmn:process id="review_loop"', b'<bpmn:process id="review_loop_of_three"')
    diagram = diagram.replace(b"<bpmn:standardLoopCharacteristics>", b'<bpmn:standardLoopCharacteristics loopMaximum="3">')
    assert deploy(api, ("review_loop_of_three.bpmn", diagram)).status_code == 201
    instance = api.post("/process-definitions/review_loop_of_three/start", {"businessKey": "LOOP-3"}).json
    for number in (1, 2):
        instance = _review(api, instance, number)
        assert instance["status"] == "active"
    instance = _review(api, instance, 3)
    assert instance["status"] == "completed", instance["activeTasks"]
