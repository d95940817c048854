"""Load and faults on loopback, against a PostgreSQL and a Redis of this module's own:
`pathways serve` (gunicorn, 4 processes of 8 threads) and `pathways worker` run as real
processes; 50 client threads work nel_section17 cases over HTTP.

- 500 cases worked to their ends: every case's state, tasks, timers and history agree.
- PostgreSQL restarted mid-run: requests answer 503 with the JSON error body meanwhile,
  the clients retry, the run completes, and the same checks pass.

Figures (throughput, latency, errors) are printed and written to tests/output/load.json.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from app.extensions import db

from conftest import make_app, seed
from consistency import check
from load_clients import Recorder, run, script
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
