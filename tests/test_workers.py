"""Timers delivered by real RQ workers on real Redis and PostgreSQL: fired exactly once,
through worker crashes, a flushed Redis and racing workers."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis import Redis

from app.extensions import db
from app.models import AuditEvent, Timer, User
from app.services import instances

from conftest import Api, clear_tables, make_app, seed, throwaway_postgres

REDIS_URL = os.environ.get("PATHWAYS_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
PATHWAYS = str(Path(sys.executable).parent / "pathways")
# The workers' output, shown when a test gives up waiting for them.
LOG = os.environ.get("PATHWAYS_TEST_WORKER_LOG") or str(Path(tempfile.gettempdir()) / f"pathways-workers-{os.getpid()}.log")


@pytest.fixture(scope="module")
def live():
    """A PostgreSQL database, a Redis queue of this run's own, and an app that uses both."""
    queue = f"pathways-test-{uuid.uuid4().hex[:8]}"
    config = {"REDIS_URL": REDIS_URL, "PATHWAYS_TIMER_QUEUE": queue, "PATHWAYS_SWEEP_STALE_SECONDS": 3.0,
              "PATHWAYS_TIMER_RETRY_SECONDS": (1, 1)}
    with throwaway_postgres() as url:
        app = make_app(url, **config)
        # Real time here: the workers run on the real clock.
        app.extensions["pathways.engine"].clock = lambda: datetime.now(timezone.utc)
        seed(app)
        app.worker_env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL,
                          "PATHWAYS_TIMER_QUEUE": queue, "PATHWAYS_SWEEP_SECONDS": "1",
                          "PATHWAYS_SWEEP_STALE_SECONDS": "3", "PATHWAYS_TIMER_RETRY_SECONDS": "1,1"}
        yield app
        with app.app_context():
            app.extensions["pathways.timer_queue"].connection.close()
            db.engine.dispose()


@pytest.fixture
def env(live):
    yield live
    Redis.from_url(REDIS_URL).flushdb()
    with live.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            clear_tables(conn, ("audit_event", "timer", "task_candidate_group", "task", "process_instance"))


class Workers:
    def __init__(self, app):
        self.app = app
        self.env = app.worker_env
        self.procs: list[subprocess.Popen] = []

    def start(self, n: int = 1) -> None:
        for _ in range(n):
            with open(LOG, "ab") as log:
                # A session of its own: the worker forks RQ's scheduler, and a crash takes both.
                self.procs.append(subprocess.Popen([PATHWAYS, "worker"], env=self.env, stdout=log,
                                                   stderr=subprocess.STDOUT, start_new_session=True))

    def kill(self) -> None:
        for proc in self.procs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.procs.clear()

    def describe(self) -> str:
        """What the workers and the timers' jobs look like, for a test that gave up."""
        from rq.job import Job

        queue = self.app.extensions["pathways.timer_queue"]
        # Where each job sits: a status says little if the job is in no list a worker reads.
        places = {"in queue": set(queue.queue.get_job_ids()),
                  "in intermediate": set(queue._intermediate().get_job_ids()),
                  "started": set(queue.queue.started_job_registry.get_job_ids(cleanup=False)),
                  "scheduled": set(queue.queue.scheduled_job_registry.get_job_ids(cleanup=False))}
        jobs: dict[str, int] = {}
        for timer_id in sorted(pending_ids(self.app))[:200]:
            status = Job.fetch(timer_id, connection=queue.connection).get_status() \
                if queue.connection.exists(Job.key_for(timer_id)) else "no job"
            status = getattr(status, "value", status)
            where = [name for name, ids in places.items() if timer_id in ids] or ["in no list"]
            key = f"{status} ({', '.join(where)})"
            jobs[key] = jobs.get(key, 0) + 1
        try:
            with open(LOG, "rb") as log:
                tail = log.read()[-3000:].decode(errors="replace")
        except OSError:
            tail = ""
        return (f"\nworkers' exit codes: {[p.poll() for p in self.procs]} (None: running)"
                f"\ntimers: {timer_statuses(self.app)}; jobs of pending timers: {jobs}"
                f"\nscheduler lock: {queue.connection.get('rq:scheduler-lock:' + queue.queue.name)}"
                f"\nlast of the workers' output:\n{tail}")

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # anything the worker left behind
            except ProcessLookupError:
                pass
        self.procs.clear()


@pytest.fixture
def workers(env):
    w = Workers(env)
    yield w
    w.stop()


def start_visits(app, count: int, lead: float, escalate_from="2026-12-01", same_instant=False) -> list[str]:
    """Start ``count`` quick_timer instances, each with its overdue timer due ``lead``
    seconds after it starts, or all at one instant ``lead`` seconds after the last starts
    (a timer already due when it is created fires at once, in the same transaction)."""
    ids = []
    # About 20 ms a start on this machine; allow for a slower one.
    instant = soon(lead + count * 0.05)
    with app.app_context():
        user = db.session.get(User, "front.door")
        engine = app.extensions["pathways.engine"]
        for i in range(count):
            due = instant if same_instant else soon(lead)
            instance = instances.start(engine, user, "quick_timer", f"W-{i}",
                                       {"visitDue": due.isoformat(), "escalateFrom": escalate_from})
            ids.append(instance.id)
    return ids


def fired_per_timer(app) -> dict[str, int]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEvent.details).where(AuditEvent.type == "timer_fired")).scalars().all()
        counts: dict[str, int] = {}
        for details in rows:
            if "timerId" in details:  # not a timer that fired as it was reached (it had no row)
                counts[details["timerId"]] = counts.get(details["timerId"], 0) + 1
        return counts


def pending(app) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(Timer).where(
            Timer.status == "pending")).scalar_one()


def pending_ids(app) -> set[str]:
    with app.app_context():
        return set(db.session.execute(sa.select(Timer.id).where(Timer.status == "pending")).scalars())


def timer_statuses(app) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(sa.select(Timer.status, sa.func.count()).group_by(Timer.status)).all())


def wait_for(condition, timeout: float, what: str, workers: Workers | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (workers.describe() if workers else ""))


def soon(seconds: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def test_a_worker_fires_the_escalation_once_for_the_right_group(env, workers):
    api = Api(env, "front.door")
    (instance_id,) = start_visits(env, 1, 2)
    workers.start()
    atm = api.as_("nel.ai.atm")
    wait_for(lambda: atm.get("/tasks").json, 90, "the ATM's escalation task", workers)
    assert [t["activityId"] for t in atm.get("/tasks").json] == ["chase_visit"]
    assert api.as_("nel.ai.sw1").get("/tasks").json[0]["activityId"] == "visit"
    time.sleep(1.5)  # give a duplicate delivery time to show itself
    assert list(fired_per_timer(env).values()) == [1]
    shown = api.get(f"/process-instances/{instance_id}").json
    assert shown["timers"] == [] and shown["status"] == "active"


def test_a_timer_whose_task_completed_first_does_nothing(env, workers):
    api = Api(env, "front.door")
    (instance_id,) = start_visits(env, 1, 2)
    visit = api.get(f"/process-instances/{instance_id}").json["activeTasks"][0]
    assert api.as_("nel.ai.sw1").post(f"/tasks/{visit['id']}/complete", {"variables": {}}).status_code == 200
    with env.app_context():
        timer_id = db.session.execute(sa.select(Timer.id)).scalar_one()
    workers.start()
    from rq.job import Job
    connection = env.extensions["pathways.timer_queue"].connection
    wait_for(lambda: Job.fetch(timer_id, connection=connection).get_status() == "finished", 90, "the job to run",
             workers)
    assert Job.fetch(timer_id, connection=connection).return_value() == "not_pending"
    assert fired_per_timer(env) == {}
    assert api.as_("nel.ai.atm").get("/tasks").json == []


def test_two_workers_racing_every_timer_fire_each_once(env, workers):
    start_visits(env, 40, 3)
    due = soon(3)
    queue = env.extensions["pathways.timer_queue"]
    with env.app_context():
        ids = list(db.session.execute(sa.select(Timer.id)).scalars())
    # A second delivery of every timer under another job id: both workers will try each.
    for timer_id in ids:
        queue.queue.enqueue_at(due, "workers.jobs.fire_timer", timer_id, job_id=f"{timer_id}-again")
    workers.start(2)
    wait_for(lambda: pending(env) == 0, 150, "every timer to fire", workers)
    time.sleep(2)
    counts = fired_per_timer(env)
    assert sorted(counts) == sorted(ids) and set(counts.values()) == {1}


def test_worker_killed_mid_run_then_restarted_fires_each_timer_once(env, workers):
    start_visits(env, 400, 2)
    workers.start()
    wait_for(lambda: len(fired_per_timer(env)) >= 40, 120, "the worker to get going", workers)
    workers.kill()
    left = pending(env)
    assert left > 0, "the worker finished before it could be killed; raise the timer count"
    workers.start()
    wait_for(lambda: pending(env) == 0, 240, "the restarted worker to fire the rest", workers)
    counts = fired_per_timer(env)
    assert len(counts) == 400 and set(counts.values()) == {1}, timer_statuses(env)


def test_redis_flushed_with_a_thousand_timers_pending_the_sweep_fires_all_once(env, workers):
    start_visits(env, 1000, 2, same_instant=True)
    Redis.from_url(REDIS_URL).flushdb()
    # On a loaded machine the last starts can pass the shared instant; those timers fire as
    # they are created (and must still fire once). The rest lost their jobs with Redis.
    lost = pending_ids(env)
    assert len(lost) >= 200, f"only {len(lost)} timers were still pending when Redis was flushed"
    workers.start()
    wait_for(lambda: pending(env) == 0, 240, f"the sweep and worker to fire the {len(lost)} whose jobs were lost", workers)
    counts = fired_per_timer(env)
    assert lost <= set(counts) and set(counts.values()) == {1}


def test_a_failing_timer_is_retried_then_shown_as_an_incident(env, workers):
    api = Api(env, "front.door")
    (instance_id,) = start_visits(env, 1, 1, escalate_from=None)
    workers.start()
    wait_for(lambda: api.get(f"/process-instances/{instance_id}").json["status"] == "incident", 180,
             "three attempts and the incident", workers)
    shown = api.get(f"/process-instances/{instance_id}").json
    assert "escalateFrom" in shown["incident"] and "3 times" in shown["incident"]
    with env.app_context():
        assert db.session.execute(sa.select(Timer.attempts)).scalar_one() == 3
    assert fired_per_timer(env) == {}


def test_one_batch_of_due_and_future_timers_is_all_put_on_redis(env):
    # The sweep after a flush puts back overdue and future timers together, in one pipeline.
    from rq.job import Job

    queue = env.extensions["pathways.timer_queue"]
    batch = [("future-1", soon(3600)), ("due-1", soon(-60)), ("future-2", soon(7200)), ("due-2", soon(-1))]
    assert queue.schedule(batch) == 4
    statuses = {t: Job.fetch(t, connection=queue.connection).get_status() for t, _ in batch}
    assert statuses == {"future-1": "scheduled", "due-1": "queued", "future-2": "scheduled", "due-2": "queued"}


def test_a_retry_waiting_for_its_backoff_is_not_taken_for_lost(env):
    """A timer due long ago whose job waits, scheduled, for its next attempt is left to wait;
    one whose scheduled time passed long ago (no scheduler took it) is put back."""
    queue = env.extensions["pathways.timer_queue"]
    long_ago = soon(-3600)
    queue.queue.enqueue_at(soon(300), "workers.jobs.fire_timer", "retrying", job_id="retrying")
    queue.queue.enqueue_at(soon(-600), "workers.jobs.fire_timer", "stuck", job_id="stuck")
    assert queue.missing([("retrying", long_ago), ("stuck", long_ago)]) == [("stuck", long_ago)]


def test_sweep_command_puts_back_lost_jobs(env):
    from click.testing import CliRunner

    from app.cli import cli

    start_visits(env, 5, 3600)
    Redis.from_url(REDIS_URL).flushdb()
    result = CliRunner(env=env.worker_env).invoke(cli, ["timers", "sweep"])
    assert result.exit_code == 0, result.output
    assert "5 pending timer(s); 5 put back" in result.output
    again = CliRunner(env=env.worker_env).invoke(cli, ["timers", "sweep"])
    assert "0 put back" in again.output


def test_a_job_just_taken_by_a_worker_is_not_stranded_until_it_stays_there(env):
    """A worker moves each job it takes through RQ's intermediate list before starting it;
    only one still there ``stale_after`` after it was first seen belongs to a dead worker."""
    queue = env.extensions["pathways.timer_queue"]
    intermediate = queue._intermediate()
    due = soon(-60)
    queue.schedule([("taken", due), ("abandoned", due)])
    for job_id in ("taken", "abandoned"):
        queue.connection.lrem(queue.queue.key, 1, job_id)
        queue.connection.rpush(intermediate.key, job_id)
    queue.connection.set(intermediate.get_first_seen_key("abandoned"), soon(-10).timestamp())
    assert queue.missing([("taken", due), ("abandoned", due)]) == [("abandoned", due)]
    assert queue.reschedule([("abandoned", due)]) == 1
    assert intermediate.get_first_seen("abandoned") is None and "abandoned" not in intermediate.get_job_ids()


def test_a_stranded_job_is_put_back_though_rq_still_lists_a_dead_execution_of_it(env):
    """A worker killed while running a timer's job leaves its execution in RQ's started
    registry until the job's timeout; the job, taken again by a worker that then died too,
    sits in the intermediate list with status queued. It is stranded all the same."""
    queue = env.extensions["pathways.timer_queue"]
    intermediate = queue._intermediate()
    due = soon(-60)
    queue.schedule([("rerun", due)])
    queue.connection.lrem(queue.queue.key, 1, "rerun")
    queue.connection.rpush(intermediate.key, "rerun")
    # The dead execution's entry, as RQ writes it ({job id}:{execution id}), expiring later.
    queue.connection.zadd(queue.queue.started_job_registry.key, {"rerun:dead-execution": soon(600).timestamp()})
    assert "rerun" in queue.queue.started_job_registry.get_job_ids(cleanup=False)
    queue.connection.set(intermediate.get_first_seen_key("rerun"), soon(-10).timestamp())
    assert queue.missing([("rerun", due)]) == [("rerun", due)]


def test_the_worker_starts_a_new_rq_loop_when_one_ends_unasked(env, monkeypatch):
    from workers import worker as rq_worker

    calls = []

    def work(self, **_):
        calls.append(self.name)
        if len(calls) == 2:
            self.asked_to_stop = True  # as SIGTERM does
        return False

    monkeypatch.setattr(rq_worker.TimerWorker, "work", work)
    monkeypatch.setattr(rq_worker, "RESTART_PAUSE_SECONDS", 0.01)
    rq_worker.run(env, sweep_every=0)
    assert len(calls) == 2 and calls[0] != calls[1]


def _wait_until_idle(app, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until the worker waits for jobs: RQ marks it idle once its signal handlers are in
    place (a fixed sleep was too short on a loaded machine)."""
    from rq import Worker

    connection = app.extensions["pathways.timer_queue"].connection
    deadline = time.monotonic() + timeout
    while not any(w.pid == proc.pid and w.get_state() == "idle" for w in Worker.all(connection=connection)):
        assert proc.poll() is None, "the worker exited while starting"
        assert time.monotonic() < deadline, "the worker did not start waiting for jobs"
        time.sleep(0.1)


def test_sigterm_stops_an_idle_worker(env, workers):
    workers.start()
    proc = workers.procs[0]
    _wait_until_idle(env, proc)
    proc.terminate()
    assert proc.wait(timeout=20) == 0
