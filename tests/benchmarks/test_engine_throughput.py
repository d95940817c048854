"""The nel_section17 happy path, many times, four ways, in one run:

1. plain in-memory SpiffWorkflow;
2. in memory with a full SpiffWorkflow deserialize + serialize per completion (the floor
   for any engine that persists its state);
3. Pathways' service layer on SQLite and on PostgreSQL;
4. over HTTP (gunicorn) on PostgreSQL;

and, for reference, Pathways' engine adapter with no database: the state round trip of
the service layer (without its spec, which SpiffWorkflow's own serializer writes into every
copy of way 2) and nothing else, so that the service layer's gap to it is the database's.

The ways take turns (ROUNDS rounds, after an uncounted warm-up), so that the machine's
speed drifting during the run changes each way alike. Prints task completions per second, p50/p95 latency per completion, each way's ratio to
the round-trip floor and the bytes of stored state per finished instance. Checks ratios and
sizes measured in this run (not absolute times): the service layer on PostgreSQL within 4x
of the floor, at most 32 KB of state per finished instance. Run with `make bench`.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, ContextManager, Generator
from zoneinfo import ZoneInfo

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from conftest import BENCH_SMOKE, ROOT, make_app, seed, throwaway_postgres  # noqa: E402

INSTANCES = {"memory": 200, "roundtrip": 200, "adapter": 200, "sqlite": 100, "postgres": 100, "http": 50}
# The ways take turns this many times (each running its count / ROUNDS instances a turn).
ROUNDS = 5
if BENCH_SMOKE:
    INSTANCES, ROUNDS = {key: 2 for key in INSTANCES}, 1
# The service and HTTP ways run on the real clock, and a visit or an assessment is recorded
# once it has happened: the referral came yesterday, the visit and the assessment are today's.
_NOW = datetime.now(ZoneInfo("Europe/London"))
TODAY = _NOW.date().isoformat()
START = {"childId": "C-1", "referralId": "R-1", "referralReceivedAt": (_NOW - timedelta(days=1)).isoformat(),
         "strategyDiscussionRecommended": False}
# (activity, user, variables) in the order the happy path reaches them.
STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("duty_atm_review", "nel.ai.atm", {"reviewDecision": "accept"}),
    ("allocation_discussion", "nel.ai.atm", {"allocatedWorker": "nel.ai.sw1", "visitPlan": "Visit",
                                             "managementCaseNoteRecorded": True}),
    ("initial_visit", "nel.ai.sw1", {"visitDate": TODAY, "childSeen": True}),
    ("formal_supervision", "nel.ai.atm", {"complexity": "low", "concernsEscalating": False,
                                          "multipleAgencies": False, "assessmentFocus": "Neglect"}),
    ("single_assessment", "nel.ai.sw1", {"assessmentCompletedOn": TODAY, "recommendedOutcome": "close",
                                         "assessmentSummary": "Needs met"}),
    ("agree_assessment_outcome", "nel.ai.atm", {"assessmentOutcome": "close", "outcomeRationale": "Agreed"}),
]


class Result:
    def __init__(self, name: str):
        self.name = name
        self.latencies: list[float] = []
        self.elapsed = 0.0
        self.state_bytes: list[int] = []

    def per_second(self) -> float:
        return len(self.latencies) / self.elapsed

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    def reset(self) -> None:
        self.latencies, self.elapsed, self.state_bytes = [], 0.0, []


def timed(result: Result, action: Callable[[], Any]) -> Any:
    began = time.perf_counter()
    value = action()
    result.latencies.append(time.perf_counter() - began)
    return value


# Each way is a generator: it sets itself up, yields its Result, then runs as many
# instances as it is sent, round after round, and tears itself down when closed. The ways
# take turns (see interleaved), so that a machine getting quicker or slower during the run
# (this one does, by 2-3x within an hour) changes every way alike and the ratios hold.
Way = Generator[Result, int, None]


def interleaved(ways: list[Way], counts: list[int], rounds: int, warmup: int = 2) -> list[Result]:
    """Run the ways in turns: ``rounds`` rounds, each way running its count / rounds
    instances a round, after a warm-up round of ``warmup`` instances each that is not counted."""
    try:
        results = [next(way) for way in ways]
        for way, result in zip(ways, results):
            way.send(warmup)
            result.reset()
        for _ in range(rounds):
            for way, count in zip(ways, counts):
                way.send(count // rounds)
    finally:
        for way in ways:
            way.close()
    return results


def _rounds(result: Result, run_one: Callable[[], None],
            each_round: Callable[[], ContextManager[Any]] = contextlib.nullcontext,
            after_round: Callable[[], None] | None = None) -> Way:
    """Run ``run_one`` (one instance) as many times as sent, inside ``each_round()``, adding
    each round's time; then ``after_round()``, untimed: the benchmark's own checks and size
    measurements, which are not the work measured."""
    count = yield result
    while True:
        with each_round():
            began = time.perf_counter()
            for _ in range(count):
                run_one()
            result.elapsed += time.perf_counter() - began
            if after_round is not None:
                after_round()
        count = yield result


# -- 1 and 2: SpiffWorkflow on its own ----------------------------------------------------

def spiff_way(name: str, roundtrip: bool) -> Way:
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
    from SpiffWorkflow.task import TaskState

    from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
    from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG

    from app.calendar import WorkingCalendar
    from app.engine.expressions import create_script_engine
    from app.engine.xmlsafe import parse_xml

    # SpiffWorkflow as it comes: its own Camunda parser, DMN task and serializer.
    parser = CamundaParser()
    parser.add_dmn_xml(parse_xml((ROOT / "dmn" / "nel_assessment_track.dmn").read_bytes(), 1 << 22), "t.dmn")
    # A transfer to the CIN team applies the CIN team's entry decision first.
    parser.add_dmn_xml(parse_xml((ROOT / "dmn" / "cin_team_entry.dmn").read_bytes(), 1 << 22), "c.dmn")
    parser.add_bpmn_xml(parse_xml((ROOT / "bpmn" / "nel_section17.bpmn").read_bytes(), 1 << 22), "s.bpmn")
    # nel_section17 calls the strategy discussion pathway.
    parser.add_bpmn_xml(parse_xml((ROOT / "bpmn" / "nel_strategy_to_icpc.bpmn").read_bytes(), 1 << 22), "i.bpmn")
    spec, subprocesses = parser.get_spec("nel_section17"), parser.get_subprocess_specs("nel_section17")
    engine = create_script_engine(WorkingCalendar())
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))
    result = Result(name)

    def run_one():
        workflow = BpmnWorkflow(spec, subprocesses, script_engine=engine)
        workflow.get_next_task(state=TaskState.READY).set_data(**START)
        workflow.do_engine_steps()
        state = serializer.serialize_json(workflow) if roundtrip else None
        for activity, user, variables in STEPS:
            def complete():
                nonlocal workflow, state
                if roundtrip:
                    workflow = serializer.deserialize_json(state)
                    workflow.script_engine = engine
                task = next(t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                            if t.task_spec.bpmn_id == activity)
                task.set_data(**variables)
                task.data["completedAt"] = {**task.data.get("completedAt", {}), activity: "2027-06-01T12:00:00+00:00"}
                task.data["completedBy"] = {**task.data.get("completedBy", {}), activity: user}
                task.run()
                workflow.do_engine_steps()
                if roundtrip:
                    state = serializer.serialize_json(workflow)
            timed(result, complete)
        assert workflow.is_completed(), "the happy path did not reach its end"
        if roundtrip:
            result.state_bytes.append(len(state))

    yield from _rounds(result, run_one)


def adapter_way(name: str, database_url: str) -> Way:
    """Pathways' engine adapter without the database: each completion restores the state
    from JSON and serializes it back, without its spec, as the service layer does. The gap
    between this and the service layer is the database's share."""
    import orjson
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import ProcessDefinition
    from app.services.projection import stored_spec

    app = make_app(database_url)
    seed(app)
    engine = app.extensions["pathways.engine"]
    result = Result(name)
    with app.app_context():
        definition_id = db.session.execute(sa.select(ProcessDefinition.id).where(
            ProcessDefinition.key == "nel_section17")).scalar_one()
        # Loaded once: the engine keeps a version's restored spec.
        spec = stored_spec(definition_id)()

    def run_one():
        snapshot = engine.start(definition_id, spec, dict(START))
        stored = orjson.dumps(snapshot.state)
        for activity, user, variables in STEPS:
            task_id = next(t["id"] for t in snapshot.user_tasks if t["activityId"] == activity)

            def complete():
                nonlocal snapshot, stored
                snapshot = engine.complete_task(definition_id, spec, orjson.loads(stored), task_id,
                                                dict(variables), user)
                stored = orjson.dumps(snapshot.state)
            timed(result, complete)
        assert snapshot.completed and snapshot.variables["outcome"] == "close"
        result.state_bytes.append(len(stored) + len(orjson.dumps(snapshot.variables)))

    try:
        # In an app context: the decisions a diagram evaluates are read from the database.
        yield from _rounds(result, run_one, app.app_context)
    finally:
        with app.app_context():
            db.engine.dispose()


# -- 3: the service layer -----------------------------------------------------------------

def service_way(name: str, database_url: str) -> Way:
    from datetime import datetime, timezone

    import sqlalchemy as sa

    from app.extensions import db
    from app.models import ProcessInstance, User
    from app.services import instances, tasks

    app = make_app(database_url)
    app.extensions["pathways.engine"].clock = lambda: datetime.now(timezone.utc)
    seed(app)
    engine = app.extensions["pathways.engine"]
    result = Result(name)
    started = iter(range(10 ** 9))
    users: dict[str, User] = {}

    @contextlib.contextmanager
    def each_round():
        # Each turn has an app context (and so a session) of its own, and its users in it.
        with app.app_context():
            users.update((u.id, u) for u in db.session.execute(sa.select(User)).scalars())
            yield

    finished: list[str] = []

    def run_one():
        # Each action answers with the instance as written, its open tasks included, as the
        # API answers an integrator: the next task comes from there (the other ways do the same).
        written = instances.start(engine, users["front.door"], "nel_section17", f"B-{next(started)}", START)
        for activity, user, variables in STEPS:
            task_id = next(t.id for t in written.active_tasks if t.activity_id == activity)
            written = timed(result, lambda: tasks.complete(engine, users[user], task_id, variables))
        finished.append(written.id)

    def check_and_measure():
        # Read back from the database: each case ended where the happy path ends, and its size.
        for instance_id in finished:
            instance = db.session.get(ProcessInstance, instance_id)
            assert instance.status == "completed" and instance.variables["outcome"] == "close"
            result.state_bytes.append(len(json.dumps(instance.state)) + len(json.dumps(instance.variables)))
        finished.clear()

    try:
        yield from _rounds(result, run_one, each_round, check_and_measure)
    finally:
        with app.app_context():
            db.engine.dispose()


# -- 4: over HTTP --------------------------------------------------------------------------

def http_way(name: str, database_url: str) -> Way:
    from app.extensions import db

    app = make_app(database_url)
    seed(app)
    with app.app_context():
        db.engine.dispose()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # `serve` refuses the development secret outside SQLite.
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": secrets.token_hex(32)}
    env.pop("REDIS_URL", None)
    server = subprocess.Popen([str(Path(sys.executable).parent / "pathways"), "serve", "--port", str(port),
                               "--workers", "2", "--threads", "1"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/api/v1"
    result = Result(name)
    sessions = {user: requests.Session() for user in ("front.door", "nel.ai.atm", "nel.ai.sw1")}
    for user, session in sessions.items():
        session.headers["Authorization"] = f"Bearer {app.tokens[user]}"
    started = iter(range(10 ** 9))

    def run_one():
        instance = sessions["front.door"].post(f"{base}/process-definitions/nel_section17/start",
                                               json={"businessKey": f"H-{next(started)}", "variables": START}).json()
        for activity, user, variables in STEPS:
            task = next(t for t in instance["activeTasks"] if t["activityId"] == activity)
            response = timed(result, lambda: sessions[user].post(f"{base}/tasks/{task['id']}/complete",
                                                                 json={"variables": variables}))
            assert response.status_code == 200, response.text
            instance = response.json()
        assert instance["status"] == "completed"

    try:
        for _ in range(300):
            try:
                if requests.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                assert server.poll() is None, "pathways serve exited"
                time.sleep(0.1)
        yield from _rounds(result, run_one)
    finally:
        for session in sessions.values():
            session.close()
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.benchmark
def test_nel_section17_four_ways(tmp_path):
    with throwaway_postgres() as pg_url, throwaway_postgres() as http_url:
        ways = [spiff_way("in-memory SpiffWorkflow", roundtrip=False),
                spiff_way("in-memory + round trip (floor)", roundtrip=True),
                adapter_way("engine adapter, no database", f"sqlite:///{tmp_path / 'adapter.sqlite3'}"),
                service_way("service layer, SQLite", f"sqlite:///{tmp_path / 'bench.sqlite3'}"),
                service_way("service layer, PostgreSQL", pg_url),
                http_way("HTTP, PostgreSQL", http_url)]
        counts = [INSTANCES[k] for k in ("memory", "roundtrip", "adapter", "sqlite", "postgres", "http")]
        results = interleaved(ways, counts, ROUNDS, warmup=1 if BENCH_SMOKE else 2)
    floor = results[1].per_second()
    print("\nnel_section17 happy path (6 completions per instance)")
    # completions/s: over the whole run, starting each case included; busy/s: over the time
    # spent in the completions alone.
    print(f"{'way':<34}{'completions/s':>14}{'busy/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'vs floor':>10}"
          f"{'state bytes':>13}")
    for r in results:
        size = f"{statistics.median(r.state_bytes):,.0f}" if r.state_bytes else "-"
        print(f"{r.name:<34}{r.per_second():>14.0f}{len(r.latencies) / sum(r.latencies):>8.0f}"
              f"{r.pct(0.5):>9.2f}{r.pct(0.95):>9.2f}{r.per_second() / floor:>9.2f}x{size:>13}")
    pg, http = results[4], results[5]
    # PASS or MISS on the whole run; the completions' own rate is shown beside it.
    print(f"targets: >= 150 completions/s PostgreSQL service layer: {pg.per_second():.0f} over the run, "
          f"{len(pg.latencies) / sum(pg.latencies):.0f} busy "
          f"{'PASS' if pg.per_second() >= 150 else 'MISS'}; p50 <= 15 ms over HTTP: {http.pct(0.5):.1f} ms "
          f"{'PASS' if http.pct(0.5) <= 15 else 'MISS'}; <= 32 KB state: {max(pg.state_bytes):,} bytes")
    adapter = results[2]
    print(f"PostgreSQL service layer vs engine adapter alone: {adapter.per_second() / pg.per_second():.2f}x the time")
    assert max(pg.state_bytes) <= 32 * 1024
    if not BENCH_SMOKE:
        assert pg.per_second() >= floor / 4, "service layer on PostgreSQL is more than 4x slower than the floor"
