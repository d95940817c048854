"""The REST API contract, on a small diagram: auth, errors, tasks, messages, cancel."""
from __future__ import annotations

import pytest

START = {"childId": "C-1", "referralReceivedAt": "2026-12-23T10:00:00Z"}


def start_smoke(api, business_key="B-1", variables=START):
    response = api.post("/process-definitions/smoke_flow/start",
                        {"businessKey": business_key, "variables": variables})
    assert response.status_code == 201, response.json
    return response.json


def test_health_needs_no_token(api):
    response = api.as_(None) if False else api.client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "not configured"}


def test_missing_or_wrong_token_is_401(api):
    assert api.client.get("/api/v1/tasks").status_code == 401
    response = api.client.get("/api/v1/tasks", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_openapi_lists_every_endpoint(api):
    spec = api.client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    expected = {
        ("/api/v1/health", "get"), ("/api/v1/process-definitions", "get"), ("/api/v1/deployments", "post"),
        ("/api/v1/process-definitions/{key}/start", "post"), ("/api/v1/process-instances", "get"),
        ("/api/v1/process-instances/{instance_id}", "get"),
        ("/api/v1/process-instances/{instance_id}/history", "get"),
        ("/api/v1/process-instances/{instance_id}/cancel", "post"), ("/api/v1/tasks", "get"),
        ("/api/v1/tasks/{task_id}", "get"), ("/api/v1/tasks/{task_id}/claim", "post"),
        ("/api/v1/tasks/{task_id}/unclaim", "post"), ("/api/v1/tasks/{task_id}/assign", "post"),
        ("/api/v1/tasks/{task_id}/complete", "post"), ("/api/v1/messages", "post"),
        ("/api/v1/decisions", "get"), ("/api/v1/decisions/{key}/evaluate", "post"),
    }
    present = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert expected <= present
    assert "TaskOut" in spec["components"]["schemas"]


def test_openapi_gives_each_answer_its_media_type(api):
    # Documents are HTML and PDF, not JSON; their errors are JSON like every other.
    paths = api.client.get("/api/v1/openapi.json").json["paths"]
    html = paths["/api/v1/documents/{document_id}/html"]["get"]["responses"]
    pdf = paths["/api/v1/documents/{document_id}/pdf"]["get"]["responses"]
    assert list(html["200"]["content"]) == ["text/html"]
    assert list(pdf["200"]["content"]) == ["application/pdf"]
    assert list(html["404"]["content"]) == list(pdf["404"]["content"]) == ["application/json"]
    assert list(paths["/api/v1/tasks/{task_id}"]["get"]["responses"]["200"]["content"]) == ["application/json"]


def test_definitions_list_latest_versions(api):
    response = api.get("/process-definitions")
    assert response.status_code == 200
    smoke = [d for d in response.json if d["key"] == "smoke_flow"]
    assert smoke and smoke[0]["version"] >= 1 and smoke[0]["deployedAt"]


def test_start_unknown_key_is_404(api):
    response = api.post("/process-definitions/no_such_pathway/start", {"variables": {}})
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_start_checks_variables_per_field(api):
    response = api.post("/process-definitions/smoke_flow/start",
                        {"variables": {"referralReceivedAt": "yesterday", "completedAt": {}}})
    assert response.status_code == 422
    details = response.json["error"]["details"]
    assert set(details) == {"childId", "referralReceivedAt", "completedAt"}
    assert api.get("/process-instances", definitionKey="smoke_flow").json == []


def test_start_needs_integrator_role(api):
    response = api.as_("nel.ai.sw1").post("/process-definitions/smoke_flow/start", {"variables": START})
    assert response.status_code == 403


def test_instance_shows_task_due_date_and_waiting_timer(api):
    instance = start_smoke(api)
    # Wed 23 Dec 2026 + 3 working days: Christmas Day and the substitute Boxing Day are skipped.
    (task,) = instance["activeTasks"]
    assert task["due"] == "2026-12-30T23:59:59+00:00"
    assert task["candidateGroups"] == ["nel-ai-sw"]
    assert task["documentation"] == "See the child."
    (timer,) = instance["timers"]
    assert timer["activityId"] == "visit_late" and timer["status"] == "pending"
    assert timer["dueAt"] == "2026-12-30T23:59:59+00:00"


def test_complete_validates_then_moves_on_and_records_who(api):
    instance = start_smoke(api)
    task_id = instance["activeTasks"][0]["id"]
    worker = api.as_("nel.ai.sw1")
    bad = worker.post(f"/tasks/{task_id}/complete", {"variables": {"seen": "yes", "typo": 1}})
    assert bad.status_code == 422
    assert set(bad.json["error"]["details"]) == {"seen", "visitDate", "typo"}
    assert worker.get(f"/tasks/{task_id}").json["status"] == "active"

    done = worker.post(f"/tasks/{task_id}/complete", {"variables": {"visitDate": "2026-12-24", "seen": True}})
    assert done.status_code == 200
    assert done.json["activeTasks"] == [] and done.json["timers"] == []
    assert done.json["variables"]["completedBy"] == {"visit": "nel.ai.sw1"}

    again = worker.post(f"/tasks/{task_id}/complete", {"variables": {"visitDate": "2026-12-24"}})
    assert again.status_code == 409
    # Finished is the answer even when the values would be refused too.
    late = worker.post(f"/tasks/{task_id}/complete", {"variables": {"seen": "yes", "typo": 1}})
    assert late.status_code == 409 and "not active" in late.json["error"]["message"]

    history = api.get(f"/process-instances/{instance['id']}/history").json
    kinds = [(e["type"], e["activityId"]) for e in history]
    assert ("task_completed", "visit") in kinds and ("timer_cancelled", "visit_late") in kinds
    completed = next(e for e in history if e["type"] == "task_completed")
    assert completed["user"] == "nel.ai.sw1" and completed["details"]["variables"]["seen"] is True


def test_a_task_of_a_case_outside_the_users_teams_is_404_like_a_missing_one_and_audited(api):
    instance = start_smoke(api)
    task_id = instance["activeTasks"][0]["id"]
    outsider = api.as_("nel.ifd.atm")
    unknown = "00000000-0000-0000-0000-000000000000"
    hidden, missing = outsider.get(f"/tasks/{task_id}"), outsider.get(f"/tasks/{unknown}")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json == {"error": {**missing.json["error"],
                                     "message": missing.json["error"]["message"].replace(unknown, task_id)}}
    response = outsider.post(f"/tasks/{task_id}/complete", {"variables": {"visitDate": "2026-12-24"}})
    assert response.status_code == 404
    assert response.json == outsider.post(f"/tasks/{unknown}/complete", {"variables": {}}).json | {
        "error": {**missing.json["error"], "message": missing.json["error"]["message"].replace(unknown, task_id)}}
    assert outsider.get("/tasks").json == []
    history = api.get(f"/process-instances/{instance['id']}/history").json
    denied = [e for e in history if e["type"] == "access_denied"]
    assert len(denied) == 2 and {e["user"] for e in denied} == {"nel.ifd.atm"}
    assert all(e["details"]["answer"] == "not_found" for e in denied)


def test_a_refused_completion_is_audited_and_leaves_the_case_to_be_worked(api):
    instance = start_smoke(api)
    task_id = instance["activeTasks"][0]["id"]
    sam, priya = api.as_("nel.ai.sw1"), api.as_("nel.ai.sw2")
    assert sam.post(f"/tasks/{task_id}/claim").status_code == 200
    refused = priya.post(f"/tasks/{task_id}/complete", {"variables": {"visitDate": "2026-12-24"}})
    assert refused.status_code == 403 and "assigned to nel.ai.sw1" in refused.json["error"]["message"]
    bad = sam.post(f"/tasks/{task_id}/complete", {"variables": {"visitDate": "not a date"}})
    assert bad.status_code == 422 and "visitDate" in bad.json["error"]["details"]
    done = sam.post(f"/tasks/{task_id}/complete", {"variables": {"visitDate": "2026-12-24"}})
    assert done.status_code == 200, done.json
    history = api.get(f"/process-instances/{instance['id']}/history").json
    denied = [e for e in history if e["type"] == "access_denied"]
    assert [(e["user"], e["taskId"]) for e in denied] == [("nel.ai.sw2", task_id)]
    assert [e["type"] for e in history].count("task_completed") == 1


def test_unknown_task_is_404(api):
    assert api.as_("nel.ai.sw1").get("/tasks/00000000-0000-0000-0000-000000000000").status_code == 404


def test_claim_unclaim_assign(api):
    instance = start_smoke(api)
    task_id = instance["activeTasks"][0]["id"]
    sam, priya, atm = api.as_("nel.ai.sw1"), api.as_("nel.ai.sw2"), api.as_("nel.ai.atm")
    assert sam.post(f"/tasks/{task_id}/claim").json["assignee"] == "nel.ai.sw1"
    assert priya.post(f"/tasks/{task_id}/claim").status_code == 409
    assert priya.post(f"/tasks/{task_id}/complete", {"variables": {"visitDate": "2026-12-24"}}).status_code == 403
    assert [t["id"] for t in sam.get("/tasks", assignee="nel.ai.sw1").json] == [task_id]
    assert sam.post(f"/tasks/{task_id}/unclaim").json["assignee"] is None
    assert sam.post(f"/tasks/{task_id}/assign", {"userId": "nel.ai.sw2"}).status_code == 403
    # The ATM is not in the social workers' group, so may not touch its tasks.
    assert atm.post(f"/tasks/{task_id}/assign", {"userId": "nel.ai.sw2"}).status_code == 403
    admin = api.as_("admin")
    assert admin.post(f"/tasks/{task_id}/assign", {"userId": "nel.ifd.atm"}).status_code == 422
    assert admin.post(f"/tasks/{task_id}/assign", {}).status_code == 422
    assert admin.post(f"/tasks/{task_id}/assign", {"userId": "nel.ai.sw2"}).json["assignee"] == "nel.ai.sw2"


def test_messages_correlate_by_business_key(api):
    instance = start_smoke(api, "B-7")
    start_smoke(api, "B-8")
    worker = api.as_("nel.ai.sw1")
    for inst_key in ("B-7",):
        task = worker.get("/tasks", businessKey=inst_key).json[0]
        worker.post(f"/tasks/{task['id']}/complete", {"variables": {"visitDate": "2026-12-24"}})
    nothing = api.post("/messages", {"messageName": "policeUpdate", "businessKey": "B-8"})
    assert nothing.status_code == 404
    missing = api.post("/messages", {"messageName": "policeUpdate"})
    assert missing.status_code == 422
    # Whose case it is is not a message's to change (it decides who may see it).
    moved = api.post("/messages", {"messageName": "policeUpdate", "businessKey": "B-7",
                                   "variables": {"childId": "C-OTHER"}})
    assert moved.status_code == 422
    assert moved.json["error"]["details"] == {"childId": ["is C-1 for this case; a message cannot change it"]}
    response = api.post("/messages", {"messageName": "policeUpdate", "businessKey": "B-7",
                                      "variables": {"policeNote": "no further action", "childId": "C-1"}})
    assert response.status_code == 200 and response.json["correlated"] == 1
    ended = api.get(f"/process-instances/{instance['id']}").json
    assert ended["status"] == "completed"
    assert ended["variables"]["policeNote"] == "no further action"
    assert ended["variables"]["outcome"] == "close"
    assert api.as_("nel.ai.sw1").post("/messages", {"messageName": "policeUpdate", "businessKey": "B-8"}).status_code == 403


def test_cancel_ends_tasks_and_timers(api):
    instance = start_smoke(api)
    response = api.post(f"/process-instances/{instance['id']}/cancel", {"reason": "duplicate referral"})
    assert response.status_code == 200
    assert response.json["status"] == "cancelled"
    assert response.json["activeTasks"] == [] and response.json["timers"] == []
    assert api.post(f"/process-instances/{instance['id']}/cancel", {}).status_code == 409
    task_id = instance["activeTasks"][0]["id"]
    assert api.as_("nel.ai.sw1").get(f"/tasks/{task_id}").json["status"] == "cancelled"


@pytest.mark.parametrize("query", [{"status": "sleeping"}, {"overdue": "perhaps"}])
def test_bad_query_parameters_are_422(api, query):
    path = "/process-instances" if "status" in query else "/tasks"
    assert api.get(path, **query).status_code == 422


def test_body_must_be_json_object(api):
    response = api.client.post("/api/v1/process-definitions/smoke_flow/start", data="[1,2]",
                               content_type="application/json",
                               headers={"Authorization": f"Bearer {api.app.tokens['front.door']}"})
    assert response.status_code == 422
    response = api.client.post("/api/v1/process-definitions/smoke_flow/start", data="{not json",
                               content_type="application/json",
                               headers={"Authorization": f"Bearer {api.app.tokens['front.door']}"})
    assert response.status_code == 400


def test_start_and_complete_answer_what_was_stored_without_reading_it_back(api):
    from conftest import statements_sent
    from steps import active

    def reads(statements):
        selects = [s for s in statements if s.upper().startswith("SELECT")]
        return [s.split(" FROM ", 1)[1] for s in selects if " FROM " in s]

    with statements_sent(api.app) as statements:
        started = api.post("/process-definitions/nel_section17/start", {"businessKey": "B-9", "variables": {
            "childId": "C-9", "referralId": "R-9", "referralReceivedAt": "2026-12-01T08:00:00Z",
            "strategyDiscussionRecommended": False}})
    assert started.status_code == 201, started.json
    assert started.json == api.get(f"/process-instances/{started.json['id']}").json
    # A new instance has no task or timer rows to read.
    assert not [s for s in reads(statements) if s.startswith(("task", "timer", "process_instance"))], statements
    # And it is written once, with its state.
    writes = [s.split()[0] for s in statements if s.startswith(("INSERT INTO process_instance",
                                                                 "UPDATE process_instance"))]
    assert writes == ["INSERT"], writes
    task = active(started.json, "duty_atm_review")
    with statements_sent(api.app) as statements:
        done = api.as_("nel.ai.atm").post(f"/tasks/{task['id']}/complete", {"variables": {"reviewDecision": "accept"}})
    assert done.status_code == 200, done.json
    assert done.json["activeTasks"] and done.json["timers"]
    assert done.json == api.get(f"/process-instances/{started.json['id']}").json
    # The instance is read once, under its lock and with the task being completed; its open
    # tasks and its timers once, together.
    found = reads(statements)
    assert sum("process_instance" in s for s in found) == 1, found
    assert sum(s.startswith("task JOIN process_instance") for s in found) == 1, found
    assert sum(s.startswith("task WHERE") and " UNION ALL " in s for s in found) == 1, found
    assert not [s for s in found if s.startswith("timer")], found


def test_reads_leave_the_engine_state_and_the_diagram_in_the_database(api):
    """A list of cases, a case and a task answer without the engine state (tens of KB per
    case) or the diagram's XML (tens of KB per version): only a change reads the state."""
    from conftest import statements_sent
    from steps import active

    started = start_smoke(api)
    task = active(started, started["activeTasks"][0]["activityId"])
    with statements_sent(api.app) as reads:
        assert api.get("/process-instances").status_code == 200
        assert api.get(f"/process-instances/{started['id']}").status_code == 200
        assert api.get(f"/tasks/{task['id']}").status_code == 200
        assert api.get("/tasks").status_code == 200
    with statements_sent(api.app) as statements:
        api.post(f"/tasks/{task['id']}/complete", {"variables": {}})
    selects = [s for s in reads if s.upper().startswith("SELECT")]
    assert selects and not [s for s in selects if "process_instance.state" in s or ".source_xml" in s], selects
    # The completion reads the state once, with the lock.
    assert sum("process_instance.state" in s for s in statements if s.upper().startswith("SELECT")) == 1


@pytest.mark.parametrize("path", ["/tasks/a%00b", "/process-instances/a%00b/history", "/children/C%00",
                                  "/families/F%00", "/documents/d%00/pdf"])
def test_an_id_with_a_nul_character_is_404(api, path):
    # PostgreSQL text cannot hold NUL: refused before the database is asked, on either backend.
    response = api.get(path)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_text_with_a_nul_character_is_422_naming_the_field(api):
    response = api.get("/tasks", businessKey="B\x00")
    assert response.status_code == 422
    assert response.json["error"]["details"] == {"businessKey": ["must not contain the NUL character"]}
    response = api.post("/process-definitions/smoke_flow/start",
                        {"businessKey": "B-1", "variables": {**START, "childId": "C\x00"}})
    assert response.status_code == 422
    assert response.json["error"]["details"] == {"variables": ["must not contain the NUL character"]}
    response = api.post("/families", {"id": "F-1", "name": "Smith\x00"})
    assert response.status_code == 422 and set(response.json["error"]["details"]) == {"name"}
    assert api.get("/process-instances", businessKey="B-1").json == []
    assert api.get("/families/F-1").status_code == 404


@pytest.mark.parametrize("method, path, status", [
    ("get", "/api/v1/tasks/a%2Fb", 404), ("post", "/api/v1/tasks/a%2Fb/claim", 404), ("get", "/api/v1/nothing", 404),
    ("delete", "/api/v1/tasks", 405),
])
def test_routing_errors_under_the_api_are_json(api, method, path, status):
    # An id with a "/" matches no route at all; the answer is still the API's error body.
    response = getattr(api.client, method)(path, headers=api._headers())
    assert response.status_code == status
    assert response.is_json and set(response.json["error"]) == {"code", "message", "details"}
    if status == 405:
        assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_routing_errors_elsewhere_are_not_json(api):
    response = api.client.get("/no-such-page")
    assert response.status_code == 404 and not response.is_json
    # The service's own page, in the GOV.UK style, not the framework's bare one.
    assert "Page not found" in response.get_data(as_text=True) and "govuk-template" in response.get_data(as_text=True)
    wrong_method = api.client.delete("/sign-in")
    assert wrong_method.status_code == 405 and "govuk-template" in wrong_method.get_data(as_text=True)


def test_two_concurrent_completions_one_wins(api):
    import threading

    instance = start_smoke(api)
    task_id = instance["activeTasks"][0]["id"]
    barrier = threading.Barrier(2)
    results = {}

    def complete(user):
        client = api.as_(user)
        barrier.wait()
        results[user] = client.post(f"/tasks/{task_id}/complete",
                                     {"variables": {"visitDate": "2026-12-24", "seen": user == "nel.ai.sw1"}})

    threads = [threading.Thread(target=complete, args=(u,)) for u in ("nel.ai.sw1", "nel.ai.sw2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results.values())
    assert statuses == [200, 409], {u: r.json for u, r in results.items()}
    winner = next(u for u, r in results.items() if r.status_code == 200)
    after = api.get(f"/process-instances/{instance['id']}").json
    assert after["variables"]["completedBy"] == {"visit": winner}
    assert after["variables"]["seen"] is (winner == "nel.ai.sw1")
    history = api.get(f"/process-instances/{instance['id']}/history").json
    assert [e["user"] for e in history if e["type"] == "task_completed"] == [winner]
    # The instance carries on from the winner's completion: it now waits for the police update.
    assert api.post("/messages", {"messageName": "policeUpdate", "businessKey": "B-1"}).json["correlated"] == 1


def test_two_concurrent_claims_one_wins(api):
    # Each read the task unclaimed; the second to write must not take it from the first.
    import threading

    for round_ in range(8):
        task_id = start_smoke(api, business_key=f"CLAIM-{round_}")["activeTasks"][0]["id"]
        barrier = threading.Barrier(2)
        results = {}

        def claim(user):
            client = api.as_(user)
            barrier.wait()
            results[user] = client.post(f"/tasks/{task_id}/claim")

        threads = [threading.Thread(target=claim, args=(u,)) for u in ("nel.ai.sw1", "nel.ai.sw2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(r.status_code for r in results.values()) == [200, 409], {u: r.json for u, r in results.items()}
        winner = next(u for u, r in results.items() if r.status_code == 200)
        assert api.get(f"/tasks/{task_id}").json["assignee"] == winner
        history = api.get(f"/process-instances/{api.get(f'/tasks/{task_id}').json['processInstanceId']}/history").json
        assert [e["user"] for e in history if e["type"] == "task_claimed"] == [winner]


@pytest.mark.parametrize("received", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0202-12-01"])
def test_a_date_outside_any_case_is_refused_naming_the_field(api, received):
    response = api.post("/process-definitions/smoke_flow/start",
                        {"variables": {**START, "referralReceivedAt": received}})
    assert response.status_code == 422
    assert "between 1900 and 2199" in response.json["error"]["details"]["referralReceivedAt"][0]


def test_a_body_nested_past_any_form_is_a_clear_400(api):
    nested = "[" * 400 + "]" * 400
    for body in ('{"variables": {"childId": ' + nested + "}}", '{"variables": ' + '{"a": ' * 40 + "1" + "}" * 41):
        response = api.post("/process-definitions/smoke_flow/start", data=body, content_type="application/json")
        assert response.status_code == 400, response.json
        assert "nested more than 32 levels deep" in response.json["error"]["message"]


def test_text_with_half_a_surrogate_pair_is_refused_naming_the_field(api):
    body = '{"variables": {"childId": "C-\\ud800", "referralReceivedAt": "2026-12-01T08:00:00Z"}}'
    response = api.post("/process-definitions/smoke_flow/start", data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.json["error"]["details"] == {
        "variables": ["must not contain a lone UTF-16 surrogate (such as \\ud800 without its pair)"]}
    assert api.get("/process-instances", definitionKey="smoke_flow").json == []


@pytest.mark.parametrize("path,body", [
    ("/process-definitions/smoke_flow/start", {"businesskey": "B-9", "variables": START}),
    ("/messages", {"messageName": "policeUpdate", "businessKey": "B-9", "variabels": {}}),
])
def test_a_misspelt_field_of_a_request_is_refused_not_dropped(api, path, body):
    response = api.post(path, body)
    assert response.status_code == 422
    (field,) = [k for k in body if k not in ("messageName", "businessKey", "variables")]
    assert response.json["error"]["details"] == {field: ["Unknown field."]}


def test_a_misspelt_filter_is_refused_not_ignored(api):
    response = api.get("/tasks", businesskey="B-1")
    assert response.status_code == 422 and "businesskey" in response.json["error"]["details"]


def test_spaces_alone_are_no_answer(api):
    response = api.post("/process-definitions/smoke_flow/start",
                        {"businessKey": "   ", "variables": {**START, "childId": "   "}})
    assert response.status_code == 422
    assert response.json["error"]["details"] == {"childId": ["Enter child"]}
    started = api.post("/process-definitions/smoke_flow/start", {"businessKey": "  ", "variables": START})
    assert started.status_code == 201 and started.json["businessKey"] is None


def test_a_child_id_longer_than_the_register_holds_is_refused(api):
    response = api.post("/process-definitions/smoke_flow/start", {"variables": {**START, "childId": "C" * 81}})
    assert response.status_code == 422
    assert response.json["error"]["details"] == {"childId": ["must be at most 80 characters"]}


def test_lists_come_in_pages_and_say_when_there_is_more(api):
    for n in range(5):
        start_smoke(api, business_key=f"PAGE-{n}")
    first = api.get("/process-instances", definitionKey="smoke_flow", maxResults=2)
    assert len(first.json) == 2 and 'rel="next"' in first.headers["Link"]
    assert "firstResult=2" in first.headers["Link"] and "definitionKey=smoke_flow" in first.headers["Link"]
    seen = [i["id"] for i in first.json]
    offset = 2
    while True:
        more = api.get("/process-instances", definitionKey="smoke_flow", maxResults=2, firstResult=offset)
        seen += [i["id"] for i in more.json]
        offset += 2
        if "Link" not in more.headers:
            break
    everything = api.get("/process-instances", definitionKey="smoke_flow").json
    assert seen == [i["id"] for i in everything] and len(set(seen)) == len(seen) >= 5
    assert api.get("/tasks", maxResults=0).status_code == 422
    assert api.get("/tasks", maxResults=1001).status_code == 422


@pytest.mark.parametrize("data,why", [
    (b'{"variables": {"childId": "C-\xff"}}', "it is not UTF-8 (byte 29)"),
    (b'{"variables": {"n": ' + b"9" * 5000 + b"}}", "Exceeds the limit"),
    (b'{"variables": ', "Expecting value"),
])
def test_a_json_body_that_cannot_be_read_says_why(api, data, why):
    response = api.post("/process-definitions/smoke_flow/start", data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.json["error"]["message"].startswith("the request body is not JSON that can be read: ")
    assert why in response.json["error"]["message"]


def test_database_outage_is_a_clean_503(tmp_path):
    from conftest import make_app

    app = make_app(f"sqlite:///{tmp_path / 'gone.sqlite3'}")
    client = app.test_client()
    # The database file disappears under a running server.
    (tmp_path / "gone.sqlite3").unlink()
    with app.app_context():
        from app.extensions import db
        db.engine.dispose()
    (tmp_path / "gone.sqlite3").mkdir()  # a directory where the file was: cannot be opened
    response = client.get("/api/v1/tasks", headers={"Authorization": "Bearer x"})
    assert response.status_code == 503
    assert response.json["error"]["code"] == "unavailable" and response.json["error"]["details"] == {"saved": False}
    health = client.get("/api/v1/health")
    assert health.status_code == 503 and health.json["database"] == "unavailable"


def test_database_outage_on_a_page_is_a_503_page(tmp_path):
    import re

    from conftest import make_app

    app = make_app(f"sqlite:///{tmp_path / 'gone.sqlite3'}")
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").get_data(as_text=True)).group(1)
    (tmp_path / "gone.sqlite3").unlink()
    with app.app_context():
        from app.extensions import db
        db.engine.dispose()
    (tmp_path / "gone.sqlite3").mkdir()
    response = client.post("/sign-in", data={"username": "nel.ai.atm", "password": "x", "csrf_token": token})
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "Sorry, the service is unavailable" in response.get_data(as_text=True)


@pytest.mark.postgres
def test_connection_lost_after_the_answer_keeps_the_answer_and_the_pool(postgres_database):
    """The server drops the connection between the view's answer and the session's rollback
    (PostgreSQL restarting): the answer stands and the pool's only connection is replaced."""
    import sqlalchemy as sa

    from conftest import make_app
    from app.extensions import db

    # No pre-ping: a connection killed between requests is used as it is, as when the server
    # is still down and a fresh one could not be opened either.
    app = make_app(postgres_database, SQLALCHEMY_ENGINE_OPTIONS={
        "pool_pre_ping": False, "pool_size": 1, "max_overflow": 0, "pool_timeout": 5})
    admin = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)

    @app.get("/api/v1/test-dropped")
    def dropped():
        pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return {"answered": True}

    @app.get("/api/v1/test-dropped-after-commit")
    def dropped_after_commit():
        from app.services.transaction import commit

        pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        commit()
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        db.session.execute(sa.text("SELECT 1"))  # reading the answer back
        return {"answered": True}

    client = app.test_client()
    try:
        for _ in range(3):
            response = client.get("/api/v1/test-dropped")
            assert response.status_code == 200 and response.json == {"answered": True}
        assert client.get("/api/v1/health").json["database"] == "ok"
        # Lost after its commit: unavailable, but not "nothing was changed".
        response = client.get("/api/v1/test-dropped-after-commit")
        assert response.status_code == 503 and response.json["error"]["details"] == {"saved": True}
        assert "was saved" in response.json["error"]["message"]
        assert client.get("/api/v1/health").json["database"] == "ok"
    finally:
        admin.dispose()
        with app.app_context():
            db.engine.dispose()
