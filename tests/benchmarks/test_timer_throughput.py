"""10,000 timers due at the same instant, two worker processes, PostgreSQL and Redis.

Prints the time to fire them all, lateness p50/p95/max, duplicates and losses.
Target: all fired within 60 s of the due instant, 0 duplicates, 0 lost.
Run with `make bench`.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis import Redis

from app.extensions import db
from app.models import AuditEvent, ProcessInstance, Timer, User
from app.services import instances

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from conftest import BENCH_SMOKE, make_app, seed, throwaway_postgres  # noqa: E402

TIMERS = int(os.environ.get("PATHWAYS_BENCH_TIMERS", 200 if BENCH_SMOKE else 10_000))
WORKERS = int(os.environ.get("PATHWAYS_BENCH_WORKERS", 2))
REDIS_URL = os.environ.get("PATHWAYS_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
PATHWAYS = str(Path(sys.executable).parent / "pathways")


def _clone(app, original_id: str, copies: int) -> None:
    """Copies of one waiting instance and its timer, made in SQL: starting 10,000 through
    the service would take minutes and measure something else."""
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("""
            INSERT INTO process_instance (id, definition_id, definition_key, business_key, status, state,
                                          variables, lock_version, team, started_at, started_by)
            SELECT gen_random_uuid()::text, definition_id, definition_key, 'BENCH-' || n, status, state,
                   variables, lock_version, team, started_at, started_by
            FROM process_instance, generate_series(1, :copies) AS n WHERE id = :id
        """), {"copies": copies, "id": original_id})
        conn.execute(sa.text("""
            INSERT INTO timer (id, engine_task_id, instance_id, activity_id, name, kind, due_at, status,
                               attempts, created_at)
            SELECT gen_random_uuid()::text, t.engine_task_id, p.id, t.activity_id, t.name, t.kind, t.due_at,
                   t.status, 0, t.created_at
            FROM timer t CROSS JOIN process_instance p
            WHERE t.instance_id = :id AND p.id <> :id
        """), {"id": original_id})


@pytest.mark.benchmark
def test_ten_thousand_timers_due_at_once():
    queue_name = f"pathways-bench-{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    with throwaway_postgres() as url:
        app = make_app(url, REDIS_URL=REDIS_URL, PATHWAYS_TIMER_QUEUE=queue_name)
        app.extensions["pathways.engine"].clock = lambda: datetime.now(timezone.utc)
        seed(app)
        # Far enough ahead to make and schedule every timer before any is due.
        due = (datetime.now(timezone.utc) + timedelta(seconds=5 if BENCH_SMOKE else 45)).replace(microsecond=0)
        with app.app_context():
            user = db.session.get(User, "front.door")
            original_id = instances.start(app.extensions["pathways.engine"], user, "wait_timer", "BENCH-0",
                                          {"due": due.isoformat()}).id
        _clone(app, original_id, TIMERS - 1)
        queue = app.extensions["pathways.timer_queue"]
        with app.app_context():
            rows = db.session.execute(sa.select(Timer.id, Timer.due_at)).all()
            redis.flushdb()  # the original's job too, so every timer has exactly one job
            for start in range(0, len(rows), 1000):
                queue.schedule(rows[start:start + 1000])
        assert len(rows) == TIMERS
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "PATHWAYS_TIMER_QUEUE": queue_name}
        procs = [subprocess.Popen([PATHWAYS, "worker"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(WORKERS)]
        try:
            with app.app_context():
                while datetime.now(timezone.utc) < due + timedelta(seconds=180):
                    left = db.session.execute(sa.select(sa.func.count()).select_from(Timer).where(
                        Timer.status == "pending")).scalar_one()
                    db.session.rollback()
                    if left == 0:
                        break
                    time.sleep(0.5)
                fired_at = db.session.execute(sa.select(Timer.fired_at).where(Timer.status == "fired")).scalars().all()
                lost = db.session.execute(sa.select(sa.func.count()).select_from(Timer).where(
                    Timer.status != "fired")).scalar_one()
                per_timer = db.session.execute(
                    sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.type == "timer_fired")
                    .group_by(AuditEvent.details["timerId"].as_string())
                ).scalars().all()
                completed = db.session.execute(sa.select(sa.func.count()).select_from(ProcessInstance).where(
                    ProcessInstance.status == "completed")).scalar_one()
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                # A worker finishes the job in hand before it stops; one not stopped by then is
                # reported, and killed so that the database can be dropped.
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    print(f"\n  worker {proc.pid} had not stopped 30 s after SIGTERM: killed")
                    proc.kill()
                    proc.wait(timeout=30)
            with app.app_context():
                db.engine.dispose()
                queue.connection.close()
            redis.flushdb()
            redis.close()

    lateness = sorted((f - due).total_seconds() for f in fired_at)
    duplicates = sum(n - 1 for n in per_timer if n > 1)
    all_fired = lateness[-1] if lateness else float("nan")

    def pct(p: float) -> float:
        return lateness[min(len(lateness) - 1, int(p * len(lateness)))] if lateness else float("nan")

    print(f"\n{TIMERS:,} timers due at one instant, {WORKERS} workers, PostgreSQL + Redis")
    print(f"  all fired {all_fired:.1f} s after the due instant (target <= 60 s)")
    print(f"  lateness p50 {pct(0.50):.2f} s, p95 {pct(0.95):.2f} s, max {all_fired:.2f} s, "
          f"mean {statistics.fmean(lateness):.2f} s")
    print(f"  throughput {len(lateness) / max(all_fired, 1e-9):.0f} timers/s")
    print(f"  duplicates {duplicates}, lost {lost}, instances completed {completed:,}")
    assert duplicates == 0 and lost == 0 and completed == TIMERS
    if not BENCH_SMOKE:
        assert all_fired <= 60
