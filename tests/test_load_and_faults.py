"""Load and faults on loopback, against a PostgreSQL and a Redis of this module's own:
`pathways serve` (gunicorn, 4 processes of 8 threads) and `pathways worker` run as real
processes; 50 client threads work nel_section17 cases over HTTP.

- 500 cases worked to their ends: every case's state, tasks, timers and history agree.
- PostgreSQL restarted mid-run: requests answer 503 with the JSON error body meanwhile,
  the clients retry, the run completes, and the same checks pass.
- The worker SIGKILLed and Redis flushed while cases are worked and visit timers come due:
  a new worker fires every timer exactly once.

Figures (throughput, latency, errors) are printed and written to tests/output/load.json.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from redis import Redis

from app.extensions import db
from app.models import AuditEvent, Task, Timer

from conftest import make_app, seed
from consistency import check
from load_clients import Case, Client, Recorder, run, script
from private_services import PrivatePostgres, PrivateRedis, Process, missing_binaries, serve, wait_for

pytestmark = pytest.mark.load

OUTPUT = Path(__file__).resolve().parent / "output" / "load.json"
CLIENTS = 50
SERVER_PROCESSES = 4


@dataclass
class Stack:
    app: object  # in this process: seeding and reading the database directly
    postgres: PrivatePostgres
    redis: PrivateRedis
    base: str
    worker: Process
    env: dict[str, str]
    logs: Path


@pytest.fixture(scope="module")
def stack():
    reason = missing_binaries()
    if reason:
        pytest.skip(reason)
    # The servers' logs, kept for whoever reads a failure.
    logs = OUTPUT.parent / "load-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    postgres, redis = PrivatePostgres(), PrivateRedis()
    server = worker = None
    try:
        postgres.start()
        redis.start()
        app = make_app(postgres.url)
        seed(app)
        env = {**os.environ, "DATABASE_URL": postgres.url, "REDIS_URL": redis.url,
               "SECRET_KEY": secrets.token_hex(32), "PATHWAYS_SWEEP_SECONDS": "1", "PATHWAYS_SWEEP_STALE_SECONDS": "3"}
        server, base = serve(env, logs / "serve.log", workers=SERVER_PROCESSES, threads=8)
        worker = Process(["worker"], env, logs / "worker.log").start()
        yield Stack(app, postgres, redis, base, worker, env, logs)
    finally:
        for process in (worker, server):
            if process is not None:
                process.stop()
        if "app" in locals():
            with app.app_context():
                db.engine.dispose()
        redis.stop()
        postgres.stop()


@pytest.fixture(scope="module")
def report():
    figures: dict[str, object] = {}
    yield figures
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(json.dumps(figures, indent=2) + "\n")


def show(report: dict, name: str, figures: dict) -> None:
    report[name] = figures
    print(f"\n{name}: {json.dumps(figures)}")


def test_fifty_clients_work_500_cases_and_everything_agrees(stack, report):
    cases = [script(n, "LOAD") for n in range(500)]
    recorder = run(stack.base, stack.app.tokens, cases, CLIENTS)
    figures = recorder.figures(cases)
    show(report, "load", figures)
    assert figures["errors"] == {}, [c for c in recorder.calls if not c.ok][:5]
    assert check(stack.app, cases) == []


def test_postgres_restarted_mid_run_answers_503_then_the_run_completes(stack, report):
    # Every fifth case is left open after two steps, its tasks and timers still waiting.
    cases = [script(n, "PGR", open_after=2 if n % 5 == 4 else None) for n in range(100)]
    recorder = Recorder()
    worked = Background(stack.base, stack.app.tokens, cases, CLIENTS, recorder)
    wait_for(lambda: sum(len(c.done) for c in cases) >= 150 or not worked.is_alive(), 120, "the run to get going")
    assert worked.is_alive(), "the run ended before PostgreSQL could be restarted; raise the case count"
    began = time.perf_counter()
    stack.postgres.restart()
    outage = time.perf_counter() - began
    worked.finish()

    figures = {**recorder.figures(cases), "restartSeconds": round(outage, 2)}
    show(report, "postgresRestart", figures)
    failed = [c for c in recorder.calls if not c.ok]
    assert failed, "no request met the restart; it proves nothing"
    # Unavailable, said plainly as the API's JSON error; never a 500, a traceback or a dropped connection.
    assert {c.status for c in failed} == {503}, [(c.status, c.body) for c in failed if c.status != 503][:5]
    assert all(json.loads(c.body)["error"]["code"] == "unavailable" for c in failed)
    assert check(stack.app, cases) == []
    assert requests.get(f"{stack.base}/api/v1/health", timeout=10).json()["database"] == "ok"
    # No server process died of it (gunicorn would have booted a replacement).
    assert (stack.logs / "serve.log").read_text().count("Booting worker") == SERVER_PROCESSES


def test_worker_killed_and_redis_flushed_under_load_every_timer_fires_once(stack, report):
    cases = [script(n, "KIL") for n in range(60)]
    recorder = Recorder()
    worked = Background(stack.base, stack.app.tokens, cases, 20, recorder)
    # 150 visits started over HTTP, each overdue a few seconds after it starts, so timers
    # come due before, during and after the crash.
    began = time.monotonic()
    visits = [Case(f"KIL-VISIT-{n:03d}", [], None) for n in range(150)]

    due, answered = {}, {}

    def start(case: Case) -> None:
        due[case.business_key] = datetime.now(timezone.utc) + timedelta(seconds=3 + int(case.business_key[-3:]) % 8)
        Client(stack.base, stack.app.tokens, recorder).start(
            case, "quick_timer", {"visitDue": due[case.business_key].isoformat(), "escalateFrom": "2026-12-01"})
        answered[case.business_key] = datetime.now(timezone.utc)

    with ThreadPoolExecutor(5) as pool:
        list(pool.map(start, visits))
    ids = [case.instance_id for case in visits]
    wait_for(lambda: len(fired(stack.app, ids)) >= 20, 60, "the worker to fire some visit timers")
    assert pending_timers(stack.app, ids), "every visit timer fired before the crash; start more"
    stack.worker.kill()
    Redis.from_url(stack.redis.url).flushall()
    at_crash = {"pending": len(pending_timers(stack.app, ids)), "fired": len(fired(stack.app, ids))}
    stack.worker.start()
    worked.finish()
    wait_for(lambda: not pending_timers(stack.app, ids), 120,
             lambda: f"every visit timer to fire; still pending: {timer_state(stack, pending_timers(stack.app, ids))}")
    time.sleep(3)  # a duplicate delivery has time to show itself
    show(report, "workerKilledRedisFlushed", {**at_crash, "seconds": round(time.monotonic() - began, 1)})
    # Every visit escalated exactly once, whether by its timer or on arrival.
    with stack.app.app_context():
        chases = db.session.execute(sa.select(Task.instance_id).where(
            Task.instance_id.in_(ids), Task.activity_id == "chase_visit")).scalars().all()
        db.session.remove()
    assert sorted(chases) == sorted(ids)
    counts = fired(stack.app, ids)
    with stack.app.app_context():
        rows = db.session.execute(sa.select(Timer.id, Timer.instance_id, Timer.status).where(
            Timer.instance_id.in_(ids))).all()
        db.session.remove()
    assert {status for _, _, status in rows} == {"fired"}
    assert sorted(counts) == sorted(t for t, _, _ in rows) and set(counts.values()) == {1}, counts
    # A start answered after its visit was due may have been committed after it too: then
    # the visit was overdue on arrival and escalated at once, with no timer to wait for.
    per_visit = [instance_id for _, instance_id, _ in rows]
    timed = set(per_visit)
    untimed = [c.business_key for c in visits if c.instance_id not in timed]
    assert all(answered[key] > due[key] for key in untimed), untimed
    assert len(per_visit) == len(timed) >= 100, f"{len(per_visit)} timers for {len(timed)} visits"
    assert check(stack.app, cases) == []


def fired(app, instance_ids: list[str]) -> dict[str, int]:
    """timer_fired history events per timer of these instances."""
    with app.app_context():
        rows = db.session.execute(sa.select(AuditEvent.details).where(
            AuditEvent.type == "timer_fired", AuditEvent.instance_id.in_(instance_ids))).scalars().all()
        db.session.remove()
    counts: dict[str, int] = {}
    for details in rows:
        if "timerId" in details:  # not a timer that fired as it was reached (it had no row)
            counts[details["timerId"]] = counts.get(details["timerId"], 0) + 1
    return counts


def pending_timers(app, instance_ids: list[str]) -> list[Timer]:
    with app.app_context():
        rows = db.session.execute(sa.select(Timer).where(
            Timer.instance_id.in_(instance_ids), Timer.status == "pending")).scalars().all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def timer_state(stack: Stack, timers: list[Timer]) -> list[dict]:
    """What the database and Redis say of each timer, for whoever reads a failure."""
    from rq import Queue
    from rq.intermediate_queue import IntermediateQueue
    from rq.job import Job

    redis = Redis.from_url(stack.redis.url)
    queue = Queue("pathways-timers", connection=redis)
    places = {"queued": set(queue.get_job_ids()),
              "intermediate": set(IntermediateQueue(queue.key, redis).get_job_ids()),
              "scheduled": set(queue.scheduled_job_registry.get_job_ids()),
              "started": set(queue.started_job_registry.get_job_ids(cleanup=False)),
              "failed": set(queue.failed_job_registry.get_job_ids())}
    return [{"id": t.id, "dueAt": t.due_at.isoformat(), "attempts": t.attempts, "error": t.last_error,
             "job": {k.decode(): v.decode()[:80] for k, v in redis.hgetall(Job.key_for(t.id)).items()
                     if k.decode() in ("status", "last_heartbeat", "started_at", "ended_at", "enqueued_at")},
             "in": [name for name, job_ids in places.items() if t.id in job_ids]} for t in timers]


class Background(threading.Thread):
    """A client run in a thread of its own; ``finish`` waits and raises what it raised."""

    def __init__(self, *args) -> None:
        super().__init__(name="client-run")
        self.args, self.error = args, None
        self.start()

    def run(self) -> None:
        try:
            run(*self.args)
        except BaseException as exc:  # noqa: BLE001 - raised again in the test's thread
            self.error = exc

    def finish(self) -> None:
        self.join()
        if self.error is not None:
            raise self.error
