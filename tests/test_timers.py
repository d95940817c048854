"""Timers owned by the database, fired by `run_due` (what the embedded server and
`pathways timers run-due` do); on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from conftest import statements_sent

from app.extensions import db
from app.models import AuditEvent, Timer
from app.services import timers

ATM, SW1 = "nel.ai.atm", "nel.ai.sw1"


def start_quick(api, visit_due: str, escalate_from: str | None = "2026-12-01", key="Q-1"):
    variables = {"visitDue": visit_due}
    if escalate_from:
        variables["escalateFrom"] = escalate_from
    response = api.post("/process-definitions/quick_timer/start", {"businessKey": key, "variables": variables})
    assert response.status_code == 201, response.json
    return response.json


def run_due(app, as_of: datetime, attempts: int = 3) -> dict[str, int]:
    with app.app_context():
        return timers.run_due(app.extensions["pathways.engine"], as_of, attempts)


def fired_count(app, instance_id: str) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.instance_id == instance_id, AuditEvent.type == "timer_fired")).scalar_one()


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def test_overdue_visit_raises_the_atm_escalation_once(api, app):
    instance = start_quick(api, "2026-12-04T23:59:59+00:00")
    (timer,) = instance["timers"]
    assert run_due(app, at("2026-12-04T23:59:58+00:00")) == {}
    assert run_due(app, at("2026-12-05T00:00:00+00:00")) == {"fired": 1}
    assert run_due(app, at("2026-12-05T00:00:01+00:00")) == {}
    after = api.get(f"/process-instances/{instance['id']}").json
    assert after["timers"] == []
    chase = next(t for t in after["activeTasks"] if t["activityId"] == "chase_visit")
    assert chase["candidateGroups"] == ["nel-ai-atm"]
    assert chase["due"] == "2026-12-02T23:59:59+00:00"
    assert [t["activityId"] for t in api.as_(ATM).get("/tasks").json] == ["chase_visit"]
    # Non-interrupting: the visit is still there for the social worker.
    assert any(t["activityId"] == "visit" for t in after["activeTasks"])
    assert fired_count(app, instance["id"]) == 1
    with app.app_context():
        assert timers.fire(app.extensions["pathways.engine"], timer["id"], at("2026-12-06T00:00:00+00:00")) \
            == timers.NOT_PENDING


def test_a_firing_reads_its_timer_with_the_instance_lock_and_an_unknown_timer_is_missing(api, app):
    instance = start_quick(api, "2026-12-04T23:59:59+00:00")
    (timer,) = instance["timers"]
    engine = app.extensions["pathways.engine"]
    with app.app_context():
        assert timers.fire(engine, "no-such-timer", at("2026-12-05T00:00:00+00:00")) == timers.MISSING
        # Nothing held: on SQLite a lock left over would keep every other writer waiting.
        with db.engine.begin() as conn:
            conn.execute(sa.update(Timer).where(Timer.id == timer["id"]).values(attempts=0))
    with statements_sent(app) as statements:
        assert timers.fire(engine, timer["id"], at("2026-12-05T00:00:00+00:00")) == timers.FIRED
    reads = [s.split(" FROM ", 1)[1] for s in statements if s.upper().startswith("SELECT") and " FROM " in s]
    # The timer with its instance locked, the timer again under the lock, then the projection's
    # open tasks and pending timers in one statement.
    assert len(reads) == 3, reads
    assert sum(r.startswith("timer JOIN process_instance") for r in reads) == 1, reads
    assert sum("process_instance" in r for r in reads) == 1, reads
    assert sum(r.startswith("timer") for r in reads) == 2, reads
    assert sum("UNION ALL" in r for r in reads) == 1, reads
    assert fired_count(app, instance["id"]) == 1


def test_a_due_timer_the_engine_does_not_fire_is_an_error_and_nothing_is_written(api, app, monkeypatch):
    # The row says due, the diagram says not yet (they disagree): the firing stops, the row
    # stays pending for the retries and the incident, and the history gains nothing.
    instance = start_quick(api, "2026-12-04T23:59:59+00:00")
    (timer,) = instance["timers"]
    engine = app.extensions["pathways.engine"]
    real = engine.fire_timers
    monkeypatch.setattr(engine, "fire_timers", lambda definition_id, stored, state, as_of:
                        real(definition_id, stored, state, at("2026-12-01T00:00:00+00:00")))
    def changes():  # the history less the reads of it (each read is audited)
        return [e for e in api.get(f"/process-instances/{instance['id']}/history").json if e["type"] != "case_viewed"]

    before = changes()
    with app.app_context():
        with pytest.raises(timers.EngineError, match="is due but the engine did not fire it"):
            timers.fire(engine, timer["id"], at("2026-12-05T00:00:00+00:00"))
        db.session.rollback()
    after = api.get(f"/process-instances/{instance['id']}").json
    assert [t["id"] for t in after["timers"]] == [timer["id"]]
    assert changes() == before


def test_a_deadline_already_past_when_reached_is_in_the_history_with_its_lateness(api, app):
    # The visit was due before the referral even reached the pathway (TEST_NOW is 1 Dec 09:00).
    instance = start_quick(api, "2026-11-30T09:00:00+00:00")
    assert instance["timers"] == []
    assert any(t["activityId"] == "chase_visit" for t in instance["activeTasks"])
    history = api.get(f"/process-instances/{instance['id']}/history").json
    (fired,) = [e for e in history if e["type"] == "timer_fired"]
    assert fired["activityId"] == "visit_overdue"
    assert fired["details"] == {"dueAt": "2026-11-30T09:00:00+00:00", "latenessSeconds": 86400.0, "onArrival": True}
    assert run_due(app, at("2026-12-05T00:00:00+00:00")) == {} and fired_count(app, instance["id"]) == 1


def test_timer_of_a_completed_task_does_nothing(api, app):
    instance = start_quick(api, "2026-12-04T23:59:59+00:00")
    timer_id = instance["timers"][0]["id"]
    visit = instance["activeTasks"][0]
    assert api.as_(SW1).post(f"/tasks/{visit['id']}/complete", {"variables": {}}).status_code == 200
    with app.app_context():
        assert timers.fire(app.extensions["pathways.engine"], timer_id, at("2027-01-01T00:00:00+00:00")) \
            == timers.NOT_PENDING
        assert db.session.get(Timer, timer_id).status == "cancelled"
    assert run_due(app, at("2027-01-01T00:00:00+00:00")) == {}
    assert api.as_(ATM).get("/tasks").json == []


def test_timer_across_a_bank_holiday_weekend_fires_on_the_right_working_day(api, app):
    # Easter 2027: 3 working days from Thu 25 Mar skip Good Friday, the weekend and Easter Monday.
    with app.app_context():
        due = app.extensions["pathways.calendar"].working_days(3, "2027-03-25T15:00:00Z")
    instance = start_quick(api, due.isoformat())
    assert instance["timers"][0]["dueAt"] == "2027-04-01T22:59:59+00:00"
    assert run_due(app, at("2027-03-31T12:00:00+00:00")) == {}
    assert run_due(app, at("2027-04-01T22:59:58+00:00")) == {}
    assert run_due(app, at("2027-04-01T23:00:00+00:00")) == {"fired": 1}


def test_a_failing_timer_retries_then_becomes_an_incident_until_retried(api, app):
    instance = start_quick(api, "2026-12-04T23:59:59+00:00", escalate_from=None)
    late = at("2026-12-05T00:00:00+00:00")
    assert run_due(app, late, attempts=3) == {"failed": 1}
    assert run_due(app, late, attempts=3) == {"failed": 1}
    assert run_due(app, late, attempts=3) == {"incident": 1}
    shown = api.get(f"/process-instances/{instance['id']}").json
    assert shown["status"] == "incident"
    assert "chase_visit" in shown["incident"] and "escalateFrom" in shown["incident"]
    assert shown["timers"][0]["status"] == "pending"
    assert run_due(app, late) == {}  # held while in incident

    assert api.as_(SW1).post(f"/process-instances/{instance['id']}/retry").status_code == 403
    retried = api.post(f"/process-instances/{instance['id']}/retry")
    assert retried.status_code == 200 and retried.json["status"] == "active" and retried.json["incident"] is None
    assert api.post(f"/process-instances/{instance['id']}/retry").status_code == 409
    history = [e["type"] for e in api.get(f"/process-instances/{instance['id']}/history").json]
    assert "incident" in history and "incident_retried" in history
    assert fired_count(app, instance["id"]) == 0


def test_nel_visit_overdue_escalates_to_the_atm(api, app):
    from test_nel_section17 import allocate, start

    instance = allocate(api, start(api))
    visit_timer = next(t for t in instance["timers"] if t["activityId"] == "initial_visit_overdue")
    assert run_due(app, at(visit_timer["dueAt"]) + timedelta(seconds=1)) == {"fired": 1}
    tasks = api.as_(ATM).get("/tasks", processInstanceId=instance["id"]).json
    assert [t["activityId"] for t in tasks] == ["visit_overdue_followup"]
    shown = api.get(f"/process-instances/{instance['id']}").json
    assert {t["activityId"] for t in shown["activeTasks"]} == {"initial_visit", "visit_overdue_followup"}


@pytest.mark.parametrize("as_of", ["2026-11-01T00:00:00Z"])
def test_run_due_cli_refuses_the_future_without_override(as_of, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from app.cli import cli

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 't.sqlite3'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("PATHWAYS_ALLOW_CLOCK_OVERRIDE", raising=False)
    runner = CliRunner()
    assert runner.invoke(cli, ["init-db"]).exit_code == 0
    future = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    refused = runner.invoke(cli, ["timers", "run-due", "--as-of", future])
    assert refused.exit_code != 0 and "PATHWAYS_ALLOW_CLOCK_OVERRIDE" in refused.output
    monkeypatch.setenv("PATHWAYS_ALLOW_CLOCK_OVERRIDE", "1")
    allowed = runner.invoke(cli, ["timers", "run-due", "--as-of", future])
    assert allowed.exit_code == 0 and "nothing due" in allowed.output
    past = runner.invoke(cli, ["timers", "run-due", "--as-of", as_of])
    assert past.exit_code == 0
    bad = runner.invoke(cli, ["timers", "run-due", "--as-of", "tomorrow"])
    assert bad.exit_code != 0


def test_every_timer_kind_intermediate_cycle_duration_and_subprocess_boundary(api, app):
    # Opened Fri 27 Nov 2026; the suite's clock is Tue 1 Dec 2026 09:00 UTC.
    instance = api.post("/process-definitions/timer_kinds/start",
                        {"variables": {"openedAt": "2026-11-27T10:00:00Z"}}).json
    (cooling,) = instance["timers"]
    assert cooling["activityId"] == "cooling_off" and cooling["kind"] == "intermediate"
    # Two working days after Friday: Tuesday 1 Dec, end of day.
    assert cooling["dueAt"] == "2026-12-01T23:59:59+00:00"
    assert run_due(app, at("2026-12-02T00:00:00+00:00")) == {"fired": 1}

    shown = api.get(f"/process-instances/{instance['id']}").json
    kinds = {t["activityId"]: (t["kind"], t["dueAt"]) for t in shown["timers"]}
    assert kinds == {
        # A duration counts from when the step began: when the cooling-off timer fired.
        "consent_lapsed": ("boundary", "2026-12-12T00:00:00+00:00"),
        "weekly": ("boundary-non-interrupting", "2026-12-04T10:00:00+00:00"),
        "limit": ("boundary", "2027-02-19T10:00:00+00:00"),
    }
    consent = next(t for t in shown["activeTasks"] if t["activityId"] == "consent")
    api.as_(SW1).post(f"/tasks/{consent['id']}/complete", {"variables": {}})
    # The weekly cycle fires three times, each time a meeting task and the next due time.
    for week, due in enumerate(["2026-12-04T10:00:00+00:00", "2026-12-11T10:00:00+00:00",
                                "2026-12-18T10:00:00+00:00"], start=1):
        assert run_due(app, at(due) + timedelta(seconds=1)).get("fired", 0) >= 1
        shown = api.get(f"/process-instances/{instance['id']}").json
        meetings = [t for t in shown["activeTasks"] if t["activityId"] == "meeting"]
        assert len(meetings) == week
    assert [t["activityId"] for t in shown["timers"]] == ["limit"]
    assert shown["status"] == "active"


def test_interrupting_duration_timer_on_a_task_ends_its_branch(api, app):
    instance = api.post("/process-definitions/timer_kinds/start",
                        {"variables": {"openedAt": "2026-11-27T10:00:00Z"}}).json
    run_due(app, at("2026-12-02T00:00:00+00:00"))
    assert run_due(app, at("2026-12-12T00:00:00+00:00"))["fired"] >= 1
    shown = api.get(f"/process-instances/{instance['id']}").json
    assert "consent" not in [t["activityId"] for t in shown["activeTasks"]]
    history = api.get(f"/process-instances/{instance['id']}/history").json
    assert ("activity_completed", "lapsed_end") in [(e["type"], e["activityId"]) for e in history]


def test_interrupting_boundary_on_a_subprocess_ends_it(api, app):
    instance = api.post("/process-definitions/timer_kinds/start",
                        {"variables": {"openedAt": "2026-11-27T10:00:00Z"}}).json
    run_due(app, at("2026-12-02T00:00:00+00:00"))
    consent = next(t for t in api.get(f"/process-instances/{instance['id']}").json["activeTasks"]
                   if t["activityId"] == "consent")
    api.as_(SW1).post(f"/tasks/{consent['id']}/complete", {"variables": {}})
    assert run_due(app, at("2027-02-19T10:00:01+00:00"))["fired"] >= 1
    shown = api.get(f"/process-instances/{instance['id']}").json
    assert shown["status"] == "completed" and shown["activeTasks"] == [] and shown["timers"] == []
    history = api.get(f"/process-instances/{instance['id']}/history").json
    assert ("activity_completed", "limit_end") in [(e["type"], e["activityId"]) for e in history]
    cancelled = [e["activityId"] for e in history if e["type"] == "task_cancelled"]
    assert "plan" in cancelled


def test_timer_start_event_waits_then_starts_the_work(api, app):
    instance = api.post("/process-definitions/timer_start/start",
                        {"variables": {"planAgreedAt": "2026-11-30T14:00:00Z"}}).json
    assert instance["activeTasks"] == []
    (timer,) = instance["timers"]
    # Three calendar months, clamped: 28 Feb 2027 (London time kept).
    assert (timer["kind"], timer["dueAt"]) == ("start", "2027-02-28T14:00:00+00:00")
    assert run_due(app, at("2027-02-28T14:00:01+00:00")) == {"fired": 1}
    tasks = api.as_("cin.tm").get("/tasks").json
    assert [t["activityId"] for t in tasks] == ["review"]


def test_embedded_server_fires_due_timers_without_redis(api, app):
    import time

    from app.embedded import start_timer_thread

    engine = app.extensions["pathways.engine"]
    engine.clock, clock = (lambda: datetime.now(timezone.utc)), engine.clock
    app.config["PATHWAYS_EMBEDDED_TIMER_SECONDS"], every = 0.2, app.config["PATHWAYS_EMBEDDED_TIMER_SECONDS"]
    stop = None
    try:
        waiting = start_quick(api, (datetime.now(timezone.utc) + timedelta(seconds=0.5)).isoformat())
        assert waiting["timers"], "a timer due in a moment waits"
        stop = start_timer_thread(app)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and api.get(f"/process-instances/{waiting['id']}").json["timers"]:
            time.sleep(0.1)
    finally:
        if stop is not None:
            stop()
        engine.clock = clock
        app.config["PATHWAYS_EMBEDDED_TIMER_SECONDS"] = every
    shown = api.get(f"/process-instances/{waiting['id']}").json
    assert shown["timers"] == []
    assert "chase_visit" in [t["activityId"] for t in shown["activeTasks"]]
