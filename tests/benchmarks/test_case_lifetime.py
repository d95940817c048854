"""A Durham One Point case that lives through 200 TAF review cycles (each: the review, the
plan update, the plan sent out, and at every third TAF the manager's attendance), worked
through the service layer on PostgreSQL as staff would through the API.

Prints the median time of a cycle's three completions for the first ten cycles and the
last ten, their ratio, and the bytes of engine state after the third cycle and the last.
Checks, in this one run: the last cycles take at most twice the first (the issue's target),
and the state grows by less than 10 bytes a cycle. Run with `make bench`.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from conftest import BENCH_SMOKE, Api, make_app, seed, throwaway_postgres  # noqa: E402
from test_durham_one_point import IFST_TM, KW, ifst_case, initial_work, keep_in_touch, recorded  # noqa: E402

from app.extensions import db  # noqa: E402
from app.models import ProcessInstance  # noqa: E402

CYCLES = 12 if BENCH_SMOKE else 200
# The state is measured from the end of the third cycle: by then it holds an answer of every
# kind a cycle records (the manager's attendance comes at every third TAF).
FIRST_MEASURED = 3


def _cycle(api: Api, instance: dict) -> tuple[dict, float]:
    began = time.perf_counter()
    for activity, variables in (
        ("taf_review", {"tafHeldOn": "2027-01-20", "scalingReview": "6/10", "caseDecision": "continue"}),
        ("taf_plan_update", {"planUpdatedOn": "2027-01-21"}),
        ("taf_plan_circulated", {"planCirculatedOn": "2027-01-22"}),
    ):
        (task,) = [t for t in instance["activeTasks"] if t["activityId"] == activity]
        response = api.as_(KW).post(f"/tasks/{task['id']}/complete", {"variables": variables})
        assert response.status_code == 200, response.json
        instance = response.json
        if activity == "taf_review" and any(t["activityId"] == "manager_at_taf" for t in instance["activeTasks"]):
            (task,) = [t for t in instance["activeTasks"] if t["activityId"] == "manager_at_taf"]
            response = api.as_(IFST_TM).post(f"/tasks/{task['id']}/complete", {"variables": {
                "managerAttended": True, "tafManagementOversight": "On track"}})
            assert response.status_code == 200, response.json
            instance = response.json
    return instance, time.perf_counter() - began


def _state_bytes(app, instance_id: str) -> int:
    with app.app_context():
        size = len(json.dumps(db.session.get(ProcessInstance, instance_id).state))
        db.session.rollback()
        return size


def test_two_hundred_taf_cycles_do_not_slow_down():
    with throwaway_postgres() as url:
        app = make_app(url)
        seed(app)
        api = Api(app, "front.door")
        instance = initial_work(api, ifst_case(api))
        # The reviews are recorded on the day they are held; the child seen and the family
        # contacted that day, so no follow-up is raised along the way.
        recorded(api, "2027-01-20")
        instance = keep_in_touch(api, instance, "2027-01-20")
        times = []
        for cycle in range(1, CYCLES + 1):
            instance, seconds = _cycle(api, instance)
            times.append(seconds)
            if cycle == FIRST_MEASURED:
                first_bytes = _state_bytes(app, instance["id"])
        last_bytes = _state_bytes(app, instance["id"])
        with app.app_context():
            db.engine.dispose()
    first, last = statistics.median(times[:10]), statistics.median(times[-10:])
    print(f"\nDurham IFST case, {CYCLES} TAF review cycles on PostgreSQL (3 completions a cycle, 4 at every third TAF):")
    print(f"  cycles 1-10:    median {first * 1000:.1f} ms a cycle")
    print(f"  cycles {CYCLES - 9}-{CYCLES}: median {last * 1000:.1f} ms a cycle  (ratio {last / first:.2f})")
    print(f"  engine state:   {first_bytes:,} bytes after cycle {FIRST_MEASURED}, {last_bytes:,} after cycle {CYCLES}"
          f" ({(last_bytes - first_bytes) / (CYCLES - FIRST_MEASURED):.1f} bytes a cycle)")
    assert last_bytes - first_bytes < 10 * (CYCLES - FIRST_MEASURED)
    if not BENCH_SMOKE:
        assert last <= 2 * first
