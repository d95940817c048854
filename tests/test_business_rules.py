"""Business rule tasks: decisions pinned to the version deployed with the process, and a
decision that cannot answer stops the instance in incident instead of guessing."""
from __future__ import annotations

ATM = "nel.ai.atm"


def test_decision_that_cannot_answer_puts_the_instance_in_incident(api):
    instance = api.post("/process-definitions/strict_route_flow/start", {"businessKey": "D-1"}).json
    task = instance["activeTasks"][0]
    atm = api.as_(ATM)
    response = atm.post(f"/tasks/{task['id']}/complete", {"variables": {"level": 1}})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "decision_failed"
    assert error["details"]["decision"] == "strict_route" and error["details"]["inputs"] == {"level": 1}
    shown = api.get(f"/process-instances/{instance['id']}").json
    assert shown["status"] == "incident" and "strict_route" in shown["incident"] and "level=1" in shown["incident"]
    # Nothing advanced: the same task is still there, with no answer recorded.
    assert [t["id"] for t in shown["activeTasks"]] == [task["id"]]
    assert "route" not in shown["variables"] and "level" not in shown["variables"]

    assert atm.post(f"/tasks/{task['id']}/complete", {"variables": {"level": 4}}).status_code == 409
    assert api.post(f"/process-instances/{instance['id']}/retry").json["status"] == "active"
    done = atm.post(f"/tasks/{task['id']}/complete", {"variables": {"level": 4}})
    assert done.status_code == 200 and done.json["variables"]["route"] == "ast"
    history = api.get(f"/process-instances/{instance['id']}/history").json
    assert [e["type"] for e in history].count("incident") == 1
    evaluated = next(e for e in history if e["type"] == "decision_evaluated")
    assert evaluated["details"]["outputs"] == {"route": "ast"}


def test_evaluate_a_decision_by_api(api):
    high = api.post("/decisions/nel_assessment_track/evaluate",
                    {"variables": {"complexity": "high", "concernsEscalating": False, "multipleAgencies": False}})
    assert high.status_code == 200 and high.json == {"assessmentDays": 35}
    low = api.post("/decisions/nel_assessment_track/evaluate",
                   {"variables": {"complexity": "low", "concernsEscalating": False, "multipleAgencies": False}})
    assert low.json == {"assessmentDays": 10}
    assert api.post("/decisions/no_such/evaluate", {"variables": {}}).status_code == 404
    unanswered = api.post("/decisions/strict_route/evaluate", {"variables": {"level": 1}})
    assert unanswered.status_code == 422 and "no rule matched" in unanswered.json["error"]["message"]
    keys = [d["key"] for d in api.get("/decisions").json]
    assert "nel_assessment_track" in keys and "strict_route" in keys


def _deploy(api, *files):
    from urllib3 import encode_multipart_formdata

    body, content_type = encode_multipart_formdata([("files", f) for f in files])
    response = api.as_("process.owner").post("/deployments", data=body, content_type=content_type)
    assert response.status_code == 201, response.json
    return response.json


def _variant(key: str, threshold: str, binding: str | None = None):
    from pathlib import Path

    fixtures = Path(__file__).parent / "fixtures"
    dmn = (fixtures / "strict_route.dmn").read_text().replace('id="strict_route"', f'id="{key}"') \
        .replace("&gt;= 3", threshold)
    bpmn = (fixtures / "strict_route_flow.bpmn").read_text() \
        .replace('id="strict_route_flow"', f'id="{key}_flow"') \
        .replace('camunda:decisionRef="strict_route"', f'camunda:decisionRef="{key}"'
                 + (f' camunda:decisionRefBinding="{binding}"' if binding else ""))
    return (f"{key}.dmn", dmn.encode()), (f"{key}_flow.bpmn", bpmn.encode())


def test_a_changed_threshold_applies_at_once_with_latest_binding(api):
    dmn, bpmn = _variant("latest_route", "&gt;= 3")
    _deploy(api, dmn, bpmn)
    waiting = api.post("/process-definitions/latest_route_flow/start", {}).json
    # The process owner lowers the threshold and deploys only the table.
    lowered, _ = _variant("latest_route", "&gt;= 1")
    assert [d["version"] for d in _deploy(api, lowered)["deployed"]] == [2]
    task = waiting["activeTasks"][0]
    done = api.as_(ATM).post(f"/tasks/{task['id']}/complete", {"variables": {"level": 1}})
    assert done.status_code == 200 and done.json["variables"]["route"] == "ast"


def test_a_decision_bound_to_the_latest_version_reads_its_source_once(api):
    from conftest import statements_sent

    dmn, bpmn = _variant("cached_route", "&gt;= 3")
    _deploy(api, dmn, bpmn)
    first, second = (api.post("/process-definitions/cached_route_flow/start", {}).json for _ in range(2))
    atm = api.as_(ATM)
    assert atm.post(f"/tasks/{first['activeTasks'][0]['id']}/complete", {"variables": {"level": 4}}).status_code == 200
    with statements_sent(api.app) as statements:
        done = atm.post(f"/tasks/{second['activeTasks'][0]['id']}/complete", {"variables": {"level": 4}})
    assert done.status_code == 200 and done.json["variables"]["route"] == "ast"
    decision_reads = [s for s in statements if "FROM decision_definition" in s]
    # Which version is the latest is asked each time; the DMN source only the first time.
    assert decision_reads and not [s for s in decision_reads if "source_xml" in s], decision_reads


def test_deployment_binding_keeps_the_version_deployed_with_the_diagram(api):
    dmn, bpmn = _variant("pinned_route", "&gt;= 3", binding="deployment")
    _deploy(api, dmn, bpmn)
    waiting = api.post("/process-definitions/pinned_route_flow/start", {}).json
    lowered, _ = _variant("pinned_route", "&gt;= 1")
    _deploy(api, lowered)
    task = waiting["activeTasks"][0]
    response = api.as_(ATM).post(f"/tasks/{task['id']}/complete", {"variables": {"level": 1}})
    assert response.status_code == 422 and response.json["error"]["code"] == "decision_failed"


def test_a_computed_output_outside_its_declared_values_is_refused(api):
    from pathlib import Path

    fixtures = Path(__file__).parent / "fixtures"
    # The route is the level itself, declared as 3 or 4: a level of 5 passes the rule but not the values.
    dmn = (fixtures / "strict_route.dmn").read_text().replace('id="strict_route"', 'id="level_route"') \
        .replace('<output id="out_route" name="route" typeRef="string" />',
                 '<output id="out_route" name="route" typeRef="number"><outputValues><text>3,4</text></outputValues>'
                 '</output>').replace('<text>"ast"</text>', "<text>level</text>")
    bpmn = (fixtures / "strict_route_flow.bpmn").read_text().replace('id="strict_route_flow"', 'id="level_route_flow"') \
        .replace('camunda:decisionRef="strict_route"', 'camunda:decisionRef="level_route"')
    _deploy(api, ("level_route.dmn", dmn.encode()), ("level_route_flow.bpmn", bpmn.encode()))
    assert api.post("/decisions/level_route/evaluate", {"variables": {"level": 4}}).json == {"route": 4}
    refused = api.post("/decisions/level_route/evaluate", {"variables": {"level": 5}})
    message = refused.json["error"]["message"]
    assert refused.status_code == 422
    assert "level_route" in message and "rule 1 (r_high) gives output 'route' the value 5" in message

    instance = api.post("/process-definitions/level_route_flow/start", {}).json
    task = instance["activeTasks"][0]
    response = api.as_(ATM).post(f"/tasks/{task['id']}/complete", {"variables": {"level": 5}})
    assert response.status_code == 422 and response.json["error"]["code"] == "decision_failed"
    shown = api.get(f"/process-instances/{instance['id']}").json
    assert shown["status"] == "incident" and "rule 1 (r_high) gives output 'route' the value 5" in shown["incident"]
    assert "route" not in shown["variables"]


def test_a_value_of_the_wrong_type_is_422_from_the_evaluate_api(api):
    contact = dict(levelOfNeed=1, consent="true", openToTeam=None, previousTeam=None, monthsSinceClosed=None,
                   section37Request=False, transferInConference=False, policeProtection=False, knownToTeams=False,
                   exploitationRisk=False, complexNeeds="none", safeguardingConcern=False, homeless16or17=False,
                   preBirth=False, significantHistory=False)
    refused = api.post("/decisions/blackpool_hub_route/evaluate", {"variables": contact})
    assert refused.status_code == 422
    message = refused.json["error"]["message"]
    assert "decision blackpool_hub_route" in message and "(consent) is 'true' (text), but its type is boolean" in message
    answered = api.post("/decisions/blackpool_hub_route/evaluate", {"variables": {**contact, "consent": True}})
    assert answered.status_code == 200 and answered.json["route"] == "advice"
    spec = api.client.get("/api/v1/openapi.json").json
    assert "422" in spec["paths"]["/api/v1/decisions/{key}/evaluate"]["post"]["responses"]


def test_wrong_types_and_absent_inputs_inside_a_process_are_incidents(api):
    from pathlib import Path

    fixtures = Path(__file__).parent / "fixtures"
    # The table reads a level reported when the process started, not the one the form checks.
    dmn = (fixtures / "strict_route.dmn").read_text().replace('id="strict_route"', 'id="reported_route"') \
        .replace("<text>level</text>", "<text>reportedLevel</text>")
    bpmn = (fixtures / "strict_route_flow.bpmn").read_text() \
        .replace('id="strict_route_flow"', 'id="reported_route_flow"') \
        .replace('camunda:decisionRef="strict_route"', 'camunda:decisionRef="reported_route"')
    _deploy(api, ("reported_route.dmn", dmn.encode()), ("reported_route_flow.bpmn", bpmn.encode()))
    for variables, expected in [({"reportedLevel": "4"}, "(reportedLevel) is '4' (text), but its type is number"),
                                ({}, "absent inputs reportedLevel: rule 1 (r_high) could apply if they were given")]:
        instance = api.post("/process-definitions/reported_route_flow/start", {"variables": variables}).json
        task = instance["activeTasks"][0]
        response = api.as_(ATM).post(f"/tasks/{task['id']}/complete", {"variables": {"level": 4}})
        assert response.status_code == 422 and response.json["error"]["code"] == "decision_failed"
        shown = api.get(f"/process-instances/{instance['id']}").json
        assert shown["status"] == "incident" and "reported_route" in shown["incident"]
        assert expected in shown["incident"], shown["incident"]
        assert "route" not in shown["variables"]
    given = api.post("/process-definitions/reported_route_flow/start", {"variables": {"reportedLevel": 4}}).json
    done = api.as_(ATM).post(f"/tasks/{given['activeTasks'][0]['id']}/complete", {"variables": {"level": 4}})
    assert done.status_code == 200 and done.json["variables"]["route"] == "ast"
