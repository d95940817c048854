"""Clients that work nel_section17 cases over HTTP the way staff would, many at once, and
record every request they make: what they did is what the database must show afterwards.

A request that fails with 503 or a dropped connection is retried. Whether it took effect
is read back first (a commit can succeed while its answer is lost), so a client neither
repeats a completion nor starts a case twice.
"""
from __future__ import annotations

import queue
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import requests

IFD, ATM, TM = "nel.ifd.atm", "nel.ai.atm", "nel.ai.tm"
WORKERS = ("nel.ai.sw1", "nel.ai.sw2")
OUTCOMES = ("close", "step_down_early_help", "short_cin_package", "transfer_cin_team")
# What a transfer to the CIN team needs (cin_team_entry): support beyond 12 weeks, with a plan.
TRANSFER = {"expectedSupportWeeks": 26, "clearPlanWithOutcomes": True, "edgeOfCare": False}
RETRY_PAUSE = 0.25
MAX_ATTEMPTS = 120  # 30 s of 503s at most before a client gives up


@dataclass
class Case:
    """One case's script: the steps in order (activity, user, variables) and its end."""

    business_key: str
    steps: list[tuple[str, str, dict[str, Any]]]
    outcome: str | None  # None: left open after its last step
    instance_id: str | None = None
    done: list[tuple[str, str, str]] = field(default_factory=list)  # (task id, activity, user)


def script(n: int, run: str, open_after: int | None = None) -> Case:
    """Case ``n``: most go to one of the four assessment outcomes; some are challenged and
    returned to the IFD, some escalated to the team managers first. ``open_after`` steps,
    the case is left where it is (its tasks and timers still waiting)."""
    worker = WORKERS[n % 2]
    # A visit and an assessment are recorded once they have happened: today, by the servers' clock.
    today = datetime.now(ZoneInfo("Europe/London")).date().isoformat()
    allocation = [
        ("allocation_discussion", ATM, {"allocatedWorker": worker, "visitPlan": "Joint visit with health visitor",
                                        "managementCaseNoteRecorded": True}),
        ("initial_visit", worker, {"visitDate": today, "childSeen": True}),
        ("formal_supervision", ATM, {"complexity": "high" if n % 3 == 0 else "low", "concernsEscalating": False,
                                     "multipleAgencies": False, "assessmentFocus": "Neglect"}),
    ]
    outcome = OUTCOMES[n % len(OUTCOMES)]
    assessment = [
        ("single_assessment", worker, {"assessmentCompletedOn": today, "recommendedOutcome": outcome,
                                       "assessmentSummary": "Needs met by universal services"}),
        ("agree_assessment_outcome", ATM, {"assessmentOutcome": outcome, "outcomeRationale": "Agreed in supervision",
                                           **(TRANSFER if outcome == "transfer_cin_team" else {})}),
    ]
    kind = n % 10
    if kind in (0, 5):
        steps = [("duty_atm_review", ATM, {"reviewDecision": "challenge", "reviewNotes": "Threshold not met"}),
                 ("atm_challenge_discussion", ATM, {"challengeOutcome": "agreed_return"}),
                 ("ifd_returned_referral", IFD, {"ifdNextSteps": "Early help offer"})]
        outcome = "not_accepted_returned_to_ifd"
    elif kind == 7:
        steps = [("duty_atm_review", ATM, {"reviewDecision": "challenge"}),
                 ("atm_challenge_discussion", ATM, {"challengeOutcome": "not_agreed"}),
                 ("tm_escalation_discussion", TM, {"escalationOutcome": "accept"}), *allocation, *assessment]
    else:
        steps = [("duty_atm_review", ATM, {"reviewDecision": "accept"}), *allocation, *assessment]
    if open_after is not None and open_after < len(steps):
        steps, outcome = steps[:open_after], None
    return Case(f"{run}-{n:04d}", steps, outcome)


@dataclass
class Call:
    kind: str  # start, complete, read
    status: int | str  # the HTTP status, or the exception's name when no answer came
    seconds: float
    body: str = ""  # kept for anything but 2xx

    @property
    def ok(self) -> bool:
        return isinstance(self.status, int) and self.status < 300


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.started = self.ended = 0.0

    def add(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    def figures(self, cases: list[Case]) -> dict[str, Any]:
        wall = self.ended - self.started
        ok = [c for c in self.calls if c.ok]
        writes = [c for c in ok if c.kind in ("start", "complete")]
        completions = sum(len(c.done) for c in cases)
        errors: dict[str, int] = {}
        for c in self.calls:
            if not c.ok:
                errors[str(c.status)] = errors.get(str(c.status), 0) + 1

        def percentiles(kind: str | None) -> dict[str, float]:
            seconds = sorted(c.seconds for c in ok if kind is None or c.kind == kind)
            if len(seconds) < 2:
                return {}
            cuts = statistics.quantiles(seconds, n=100, method="inclusive")
            return {"count": len(seconds), "p50Ms": round(cuts[49] * 1000, 1), "p95Ms": round(cuts[94] * 1000, 1),
                    "maxMs": round(seconds[-1] * 1000, 1)}

        return {
            "instances": len(cases), "wallSeconds": round(wall, 1), "requests": len(self.calls),
            "completions": completions,
            "completionsPerSecond": round(completions / wall, 1),
            "writesPerSecond": round(len(writes) / wall, 1),
            "requestsPerSecond": round(len(self.calls) / wall, 1),
            "latency": {"all": percentiles(None), "start": percentiles("start"), "complete": percentiles("complete"),
                        "read": percentiles("read")},
            "errors": errors,
        }


class Client:
    """One member of staff at a keyboard: a keep-alive HTTP session, any user's token."""

    def __init__(self, base: str, tokens: dict[str, str], recorder: Recorder) -> None:
        self.base, self.tokens, self.recorder = base, tokens, recorder
        self.http = requests.Session()
        # A connection per request: gunicorn's threaded worker can reset a kept-alive
        # connection that a request is arriving on when it is overloaded (benoitc/gunicorn
        # #1698), which would hide the failures this is looking for among its own.
        self.http.headers["Connection"] = "close"

    def _send(self, kind: str, user: str, method: str, path: str, payload: Any = None,
              params: dict[str, str] | None = None) -> requests.Response | None:
        began = time.perf_counter()
        try:
            response = self.http.request(method, f"{self.base}/api/v1{path}", json=payload, params=params, timeout=60,
                                         headers={"Authorization": f"Bearer {self.tokens[user]}"})
        except requests.ConnectionError as exc:
            self.recorder.add(Call(kind, type(exc).__name__, time.perf_counter() - began, str(exc)[:300]))
            return None
        status = response.status_code
        self.recorder.add(Call(kind, status, time.perf_counter() - began, "" if status < 300 else response.text[:300]))
        return response

    def _until_answered(self, user: str, path: str, params: dict[str, str] | None = None) -> requests.Response:
        """The first answer to a read that is neither 503 nor a dropped connection."""
        for _ in range(MAX_ATTEMPTS):
            response = self._send("read", user, "GET", path, params=params)
            if response is not None and response.status_code != 503:
                return response
            time.sleep(RETRY_PAUSE)
        raise AssertionError(f"GET {path}: still unavailable after {MAX_ATTEMPTS} attempts")

    def read(self, instance_id: str) -> dict[str, Any]:
        # As the front door's system that started it: staff outside the case would get 404.
        response = self._until_answered("front.door", f"/process-instances/{instance_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def start(self, case: Case, definition: str = "nel_section17", variables: dict[str, Any] | None = None,
              user: str = "front.door") -> dict[str, Any]:
        n = case.business_key
        variables = variables or {"childId": f"C-{n}", "referralId": n, "strategyDiscussionRecommended": False,
                                  "referralReceivedAt": datetime.now(timezone.utc).isoformat()}
        payload = {"businessKey": n, "variables": variables}
        for _ in range(MAX_ATTEMPTS):
            response = self._send("start", user, "POST", f"/process-definitions/{definition}/start", payload)
            if response is not None and response.status_code == 201:
                case.instance_id = response.json()["id"]
                return response.json()
            assert response is None or response.status_code == 503, response.text
            # No answer, or unavailable: it may have committed all the same. Look before starting again.
            found = self._find(user, n)
            if found is not None:
                case.instance_id = found
                return self.read(found)
            time.sleep(RETRY_PAUSE)
        raise AssertionError(f"could not start {n}")

    def _find(self, user: str, business_key: str) -> str | None:
        response = self._until_answered(user, "/process-instances", {"businessKey": business_key})
        assert response.status_code == 200, response.text
        rows = response.json()
        assert len(rows) <= 1, f"{business_key} started {len(rows)} times"
        return rows[0]["id"] if rows else None

    def complete(self, case: Case, instance: dict[str, Any], activity: str, user: str,
                 variables: dict[str, Any]) -> dict[str, Any]:
        matches = [t for t in instance["activeTasks"] if t["activityId"] == activity]
        assert len(matches) == 1, f"{case.business_key}: {activity} active {len(matches)} times: {instance['activeTasks']}"
        task_id = matches[0]["id"]
        for _ in range(MAX_ATTEMPTS):
            response = self._send("complete", user, "POST", f"/tasks/{task_id}/complete", {"variables": variables})
            if response is not None and response.status_code == 200:
                case.done.append((task_id, activity, user))
                return response.json()
            assert response is None or response.status_code == 503, response.text
            # Did it commit before the answer was lost? Then the task is no longer active.
            instance = self.read(case.instance_id)
            if task_id not in {t["id"] for t in instance["activeTasks"]}:
                case.done.append((task_id, activity, user))
                return instance
            time.sleep(RETRY_PAUSE)
        raise AssertionError(f"could not complete {activity} of {case.business_key}")

    def work(self, case: Case) -> None:
        instance = self.start(case)
        for activity, user, variables in case.steps:
            instance = self.complete(case, instance, activity, user, variables)
        if case.outcome is not None:
            assert instance["status"] == "completed", (case.business_key, instance["status"])
            assert instance["variables"].get("outcome") == case.outcome, (case.business_key, instance["variables"])


def run(base: str, tokens: dict[str, str], cases: list[Case], clients: int,
        recorder: Recorder | None = None) -> Recorder:
    """``clients`` threads take cases off one queue and work each to its end; any client's
    failure is raised here once all have stopped."""
    recorder = recorder or Recorder()
    todo: queue.Queue[Case] = queue.Queue()
    for case in cases:
        todo.put(case)
    failures: list[BaseException] = []

    def client() -> None:
        me = Client(base, tokens, recorder)
        while not failures:
            try:
                case = todo.get_nowait()
            except queue.Empty:
                return
            try:
                me.work(case)
            except BaseException as exc:  # noqa: BLE001 - reported by the caller's thread
                failures.append(exc)
                return

    threads = [threading.Thread(target=client, name=f"client-{i}") for i in range(clients)]
    recorder.started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.ended = time.perf_counter()
    if failures:
        raise failures[0]
    return recorder
