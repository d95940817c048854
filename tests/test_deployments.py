"""Deployments are all or nothing, versioned by content, and refuse hostile XML."""
from __future__ import annotations

from pathlib import Path

import pytest
from urllib3 import encode_multipart_formdata

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
SMOKE = (FIXTURES / "smoke_flow.bpmn").read_bytes()

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="x">
  <bpmn:process id="xxe" isExecutable="true"><bpmn:documentation>&secret;</bpmn:documentation></bpmn:process>
</bpmn:definitions>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="x">&lol9;</bpmn:definitions>"""


def deploy(api, *files: tuple[str, bytes], user="process.owner"):
    # Encoded up front: the test client spools large multipart bodies to files it never closes.
    body, content_type = encode_multipart_formdata([("files", (name, content)) for name, content in files])
    return api.as_(user).post("/deployments", data=body, content_type=content_type)


def versions(api, key):
    return [d["version"] for d in api.get("/process-definitions").json if d["key"] == key]


def renamed(key: str) -> bytes:
    return SMOKE.replace(b'id="smoke_flow"', f'id="{key}"'.encode())


def test_deploy_needs_process_owner(api):
    assert deploy(api, ("a.bpmn", renamed("needs_owner")), user="nel.ai.sw1").status_code == 403
    assert versions(api, "needs_owner") == []


def test_same_content_is_not_a_new_version_and_changed_content_is(api):
    first = deploy(api, ("v.bpmn", renamed("versioned")))
    assert first.status_code == 201
    assert [(d["key"], d["version"]) for d in first.json["deployed"]] == [("versioned", 1)]
    again = deploy(api, ("v.bpmn", renamed("versioned")))
    assert again.json["deployed"] == [] and again.json["unchanged"][0]["version"] == 1
    changed = renamed("versioned").replace(b'name="Visit"', b'name="Initial visit"')
    assert deploy(api, ("v.bpmn", changed)).json["deployed"][0]["version"] == 2
    assert versions(api, "versioned") == [2]


def test_running_instance_stays_on_its_version(api):
    deploy(api, ("p.bpmn", renamed("pinned")))
    started = api.post("/process-definitions/pinned/start",
                       {"variables": {"childId": "C", "referralReceivedAt": "2026-12-02"}}).json
    changed = renamed("pinned").replace(b'name="Visit"', b'name="Home visit"')
    deploy(api, ("p.bpmn", changed))
    instance = api.get(f"/process-instances/{started['id']}").json
    assert instance["version"] == 1 and instance["activeTasks"][0]["name"] == "Visit"
    newer = api.post("/process-definitions/pinned/start",
                     {"variables": {"childId": "C", "referralReceivedAt": "2026-12-02"}}).json
    assert newer["version"] == 2 and newer["activeTasks"][0]["name"] == "Home visit"


@pytest.mark.parametrize("name,content,expected", [
    ("not-xml.bpmn", b"this is not XML", "not well-formed XML"),
    ("empty.bpmn", b"", "empty"),
    ("xxe.bpmn", XXE, "DOCTYPE"),
    ("laughs.bpmn", LAUGHS, "DOCTYPE"),
    ("huge.bpmn", b"<x>" + b" " * (20 * 1024 * 1024) + b"</x>", "limit"),
    ("notes.txt", b"hello", "only .bpmn and .dmn"),
    ("html.bpmn", b"<html><body>hi</body></html>", "not a BPMN 2.0 or DMN document"),
])
def test_bad_files_are_refused_and_nothing_is_deployed(api, name, content, expected):
    response = deploy(api, ("good.bpmn", renamed("all_or_nothing")), (name, content))
    assert response.status_code == 400, response.json
    problems = response.json["error"]["details"]["files"]
    assert list(problems) == [name]
    assert expected in problems[name][0]
    assert versions(api, "all_or_nothing") == []


def test_a_file_name_with_a_nul_character_is_refused(api):
    # PostgreSQL cannot store it: refused with the file named, before anything is stored.
    response = deploy(api, ("good.bpmn", renamed("all_or_nothing")), ("bad\x00.bpmn", renamed("nul_named")))
    assert response.status_code == 400, response.json
    assert response.json["error"]["details"]["files"] == {
        "bad\x00.bpmn": ["a file name must not contain the NUL character"]}
    assert versions(api, "all_or_nothing") == versions(api, "nul_named") == []


def test_request_over_the_size_limit_is_413(api):
    api.app.config["MAX_CONTENT_LENGTH"], limit = 1024 * 1024, api.app.config["MAX_CONTENT_LENGTH"]
    try:
        response = deploy(api, ("big.bpmn", b"x" * (2 * 1024 * 1024)))
    finally:
        api.app.config["MAX_CONTENT_LENGTH"] = limit
    assert response.status_code == 413
    assert response.json["error"]["code"] == "too_large"


def test_user_task_without_a_role_is_refused(api):
    no_lane = renamed("roleless").replace(b"<bpmn:flowNodeRef>visit</bpmn:flowNodeRef>", b"")
    response = deploy(api, ("roleless.bpmn", no_lane))
    assert response.status_code == 400
    assert "has no role" in response.json["error"]["details"]["files"]["roleless.bpmn"][0]


def test_broken_expressions_and_form_types_are_refused(api):
    broken = renamed("broken").replace(b"working_days(3, referralReceivedAt)}", b"working_days(3,}") \
        .replace(b'type="boolean"', b'type="checkbox"')
    problems = deploy(api, ("broken.bpmn", broken)).json["error"]["details"]["files"]["broken.bpmn"]
    assert any("due date expression" in p for p in problems)
    assert any("'checkbox'" in p for p in problems)


@pytest.mark.parametrize("value, expected", [
    ("ten", "must be a whole number of working days or ${expression}, not 'ten'"),
    ("0", "must be a whole number of working days"),
    ("${assessmentDays +}", "timescale.assessment expression"),
])
def test_an_assessment_timescale_that_is_not_a_number_of_days_is_refused(api, value, expected):
    marked = renamed("assessed").replace(b"<bpmn:extensionElements><camunda:formData>", (
        '<bpmn:extensionElements><camunda:properties><camunda:property name="timescale.assessment" '
        f'value="{value}" /></camunda:properties><camunda:formData>').encode())
    problems = deploy(api, ("assessed.bpmn", marked)).json["error"]["details"]["files"]["assessed.bpmn"]
    assert any(expected in p for p in problems), problems


def test_missing_decision_is_refused(api):
    with_rule = renamed("rules").replace(
        b'<bpmn:userTask id="visit"',
        b'<bpmn:businessRuleTask id="r" camunda:decisionRef="no_such_decision"><bpmn:incoming>f1</bpmn:incoming>'
        b'<bpmn:outgoing>f0</bpmn:outgoing></bpmn:businessRuleTask><bpmn:userTask id="visit"'
    ).replace(b'sourceRef="start" targetRef="visit" />',
              b'sourceRef="start" targetRef="r" /><bpmn:sequenceFlow id="f0" sourceRef="r" targetRef="visit" />')
    response = deploy(api, ("rules.bpmn", with_rule))
    assert response.status_code == 400
    assert "no_such_decision" in str(response.json["error"]["details"])


def test_no_files_is_400(api):
    response = api.as_("process.owner").post("/deployments", data={}, content_type="multipart/form-data")
    assert response.status_code == 400


DMN = (FIXTURES / "strict_route.dmn").read_bytes()


@pytest.mark.parametrize("change,expected", [
    ((b"&gt;= 3", b"[3..4"), "rule 1 (r_high), input 'Level of need'"),
    ((b"&gt;= 3", b"contains(\"x\")"), "function contains(...) is not supported"),
    ((b"&gt;= 3", b"&gt;= date(\"2026-02-30\")"), "is not a valid date"),
    ((b'hitPolicy="FIRST"', b'hitPolicy="SOMETIMES"'), "unknown hit policy"),
    ((b'hitPolicy="FIRST"', b'hitPolicy="FIRST" aggregation="SUM"'), "needs hit policy COLLECT"),
    ((b'<output id="out_route" name="route" typeRef="string" />',
      b'<output id="out_route" name="route" typeRef="string"><outputValues><text>"ssf"</text></outputValues></output>'),
     "'ast' is not one of its declared values"),
    ((b"<text>level</text>", b"<text>level * 2</text>"), "input expression must be a variable name"),
    ((b'hitPolicy="FIRST"', b'hitPolicy="PRIORITY"'), "output 'route': hit policy PRIORITY takes its order"),
])
def test_tables_that_cannot_be_evaluated_as_written_are_refused(api, change, expected):
    bad = DMN.replace(b'id="strict_route"', b'id="misread"').replace(*change)
    response = deploy(api, ("misread.dmn", bad))
    assert response.status_code == 400
    (problem,) = response.json["error"]["details"]["files"]["misread.dmn"]
    assert expected in problem and "decision misread" in problem
    assert all(d["key"] != "misread" for d in api.get("/decisions").json)


def test_unique_rules_that_overlap_are_refused(api):
    overlapping = DMN.replace(b'id="strict_route"', b'id="overlap"').replace(b'hitPolicy="FIRST"', b'hitPolicy="UNIQUE"') \
        .replace(b"</rule>", b'</rule><rule id="r_mid"><inputEntry id="e2"><text>[2..4]</text></inputEntry>'
                             b'<outputEntry id="o2"><text>"ssf"</text></outputEntry></rule>')
    response = deploy(api, ("overlap.dmn", overlapping))
    (problem,) = response.json["error"]["details"]["files"]["overlap.dmn"]
    assert "rules 1 (r_high) and 2 (r_mid) can both match" in problem
    disjoint = overlapping.replace(b"[2..4]", b"[1..3)").replace(b'id="overlap"', b'id="disjoint"')
    assert deploy(api, ("disjoint.dmn", disjoint)).status_code == 201


SMOKE = (FIXTURES / "smoke_flow.bpmn").read_bytes()
SEEN = b'<camunda:formField id="seen" label="Child seen" type="boolean" />'


@pytest.mark.parametrize("field,expected", [
    (b'<camunda:formField id="seen" label="Child seen" type="boolean"><camunda:validation>'
     b'<camunda:constraint name="validator" config="x.y.Z" /></camunda:validation></camunda:formField>',
     "constraint 'validator' is not supported"),
    (b'<camunda:formField id="seen" label="Child seen" type="boolean"><camunda:validation>'
     b'<camunda:constraint name="maxlength" config="10" /></camunda:validation></camunda:formField>',
     "constraint 'maxlength' applies to string fields, not boolean"),
    (b'<camunda:formField id="seen" label="Child seen" type="boolean"><camunda:validation>'
     b'<camunda:constraint name="mustBe" config="yes" /></camunda:validation></camunda:formField>',
     "constraint 'mustBe' needs config true or false"),
    (b'<camunda:formField id="seen" label="Child seen" type="boolean"><camunda:properties>'
     b'<camunda:property id="requiredWhen" value="nosuchfield=true" /></camunda:properties></camunda:formField>',
     "requiredWhen must be 'field=value' naming a field of the same form"),
    (b'<camunda:formField id="seen" label="Child seen" type="boolean"><camunda:properties>'
     b'<camunda:property id="requiredWhen" value="${seen ==}" /></camunda:properties></camunda:formField>',
     "requiredWhen expression:"),
    (b'<camunda:formField id="seen" label="Child seen" type="date"><camunda:properties>'
     b'<camunda:property id="noticeBefore" value="seen:ten" /></camunda:properties></camunda:formField>',
     "noticeBefore must be 'field:N' (working days) or 'field:Nw' (weeks)"),
    (b'<camunda:formField id="seen" label="Child seen" type="boolean"><camunda:properties>'
     b'<camunda:property id="notAfter" value="working_days(5, now())" /></camunda:properties></camunda:formField>',
     "notAfter applies to date fields, not boolean"),
    (b'<camunda:formField id="seen" label="Child seen" type="date"><camunda:properties>'
     b'<camunda:property id="notBefore" value="working_days(5," /></camunda:properties></camunda:formField>',
     "notBefore expression:"),
    (b'<camunda:formField id="seen" label="Child seen" type="boolean"><camunda:properties>'
     b'<camunda:property id="notAfterToday" value="true" /></camunda:properties></camunda:formField>',
     "notAfterToday must be 'true', on a date field"),
    (b'<camunda:formField id="seen" label="Child seen" type="date"><camunda:properties>'
     b'<camunda:property id="notAfterToday" value="yes" /></camunda:properties></camunda:formField>',
     "notAfterToday must be 'true', on a date field"),
    (b'<camunda:formField id="seen" label="Child seen" type="boolean"><camunda:properties>'
     b'<camunda:property id="userInGroup" value="nel-ai-sw" /></camunda:properties></camunda:formField>',
     "userInGroup names groups (comma-separated), on a string field"),
    (SEEN + b'</camunda:formData><camunda:inputOutput><camunda:outputParameter name="completedAt">1'
     b'</camunda:outputParameter></camunda:inputOutput><camunda:formData>',
     "output parameter 'completedAt' is not a variable name a diagram may set"),
    (SEEN + b'</camunda:formData><camunda:inputOutput><camunda:inputParameter name="x">1'
     b'</camunda:inputParameter></camunda:inputOutput><camunda:formData>',
     "camunda:inputParameter is not supported"),
])
def test_form_constraints_we_would_not_enforce_are_refused(api, field, expected):
    response = deploy(api, ("smoke_flow.bpmn", SMOKE.replace(SEEN, field)))
    assert response.status_code == 400
    assert expected in str(response.json["error"]["details"])


def test_a_form_field_naming_who_is_given_a_task_must_say_whose_names_it_takes(api):
    # The field's answer becomes the chase's assignee: without userInGroup any text would do.
    diagram = SMOKE.replace(b'<bpmn:userTask id="chase" name="Chase visit">',
                            b'<bpmn:userTask id="chase" name="Chase visit" camunda:assignee="${childId}">')
    response = deploy(api, ("smoke_flow.bpmn", diagram))
    assert response.status_code == 400
    assert response.json["error"]["details"]["files"]["smoke_flow.bpmn"] == [
        "start: form field 'childId' names the person given chase (camunda:assignee): give it a userInGroup "
        "property naming the group or groups whose members may be given them"]


TIMER = b'<bpmn:timeDate xsi:type="bpmn:tFormalExpression">working_days(3, referralReceivedAt)</bpmn:timeDate>'


def _with_timer(key: str, timer: bytes) -> bytes:
    return renamed(key).replace(TIMER, timer)


@pytest.mark.parametrize("timer,due", [
    # As Camunda Modeler writes them: bare ISO 8601 values, read as the text they are.
    (b"<bpmn:timeDuration>P3D</bpmn:timeDuration>", "2026-12-04T09:00:00+00:00"),
    (b"<bpmn:timeDuration>${PT24H}</bpmn:timeDuration>", "2026-12-02T09:00:00+00:00"),
    (b"<bpmn:timeDate>2027-01-04T09:00:00Z</bpmn:timeDate>", "2027-01-04T09:00:00+00:00"),
    # Without its offset, London's (here in summer time).
    (b"<bpmn:timeDate>2027-07-05T09:00</bpmn:timeDate>", "2027-07-05T08:00:00+00:00"),
    (b"<bpmn:timeCycle>R2/P1D</bpmn:timeCycle>", "2026-12-02T09:00:00+00:00"),
])
def test_timers_written_as_camunda_modeler_writes_them_run(api, timer, due):
    assert deploy(api, ("plain_timer.bpmn", _with_timer("plain_timer", timer))).status_code == 201
    response = api.post("/process-definitions/plain_timer/start",
                        {"variables": {"childId": "C-1", "referralReceivedAt": "2026-12-01T08:00:00Z"}})
    assert response.status_code == 201, response.json
    (waiting,) = [t for t in response.json["timers"] if t["activityId"] == "visit_late"]
    assert waiting["dueAt"] == due


@pytest.mark.parametrize("timer,expected", [
    (b"<bpmn:timeDuration>P3X</bpmn:timeDuration>",
     "timer visit_late (Visit overdue): 'P3X' is not an ISO 8601 duration such as \"P3D\" or \"PT24H\""),
    (b'<bpmn:timeDuration>"3 days"</bpmn:timeDuration>',
     "timer visit_late (Visit overdue): '3 days' is not an ISO 8601 duration"),
    (b"<bpmn:timeDate>2026-13-45T00:00:00Z</bpmn:timeDate>",
     "timer visit_late (Visit overdue): '2026-13-45T00:00:00Z' is not an ISO 8601 date and time"),
    (b"<bpmn:timeCycle>0 0 9 * * ?</bpmn:timeCycle>", "timer visit_late (Visit overdue): invalid syntax"),
    (b"<bpmn:timeDate>working_dayz(3, referralReceivedAt)</bpmn:timeDate>",
     "timer visit_late (Visit overdue): working_dayz() in 'working_dayz(3, referralReceivedAt)' is not a "
     "function a diagram can call"),
])
def test_a_timer_the_engine_could_not_read_is_refused_naming_it(api, timer, expected):
    response = deploy(api, ("bad_timer.bpmn", _with_timer("bad_timer", timer)))
    assert response.status_code == 400
    (problem,) = response.json["error"]["details"]["files"]["bad_timer.bpmn"]
    assert problem.startswith(expected), problem
    assert "bad_timer" not in versions_of(api)


def versions_of(api) -> set[str]:
    return {d["key"] for d in api.get("/process-definitions").json}


def test_a_timer_whose_expression_gives_what_the_engine_cannot_use_is_refused_with_why(api):
    # Worked out when the step runs: text that is not a duration. Refused (422), not a 500.
    diagram = _with_timer("late_timer", b'<bpmn:timeDuration>"P" + childId</bpmn:timeDuration>')
    assert deploy(api, ("late_timer.bpmn", diagram)).status_code == 201
    response = api.post("/process-definitions/late_timer/start",
                        {"variables": {"childId": "C-1", "referralReceivedAt": "2026-12-01T08:00:00Z"}})
    assert response.status_code == 422
    assert "a timer's value must be an ISO 8601" in response.json["error"]["message"]


@pytest.mark.parametrize("due,expected", [
    (b"${dateTime().plusDays(2).toDate()}", "dateTime() in"),
    (b"working_days(3, referralReceivedAt) if seen eq true else None", "JUEL's eq, ne"),
])
def test_expressions_in_camundas_own_language_are_refused_saying_what_to_write(api, due, expected):
    diagram = renamed("juel").replace(b"${working_days(3, referralReceivedAt)}", due)
    problems = deploy(api, ("juel.bpmn", diagram)).json["error"]["details"]["files"]["juel.bpmn"]
    assert any(expected in p for p in problems), problems


def test_the_same_decision_in_two_files_is_refused(api):
    # A backup copy kept beside the edited table: deploying either silently would be a guess.
    edited = DMN.replace(b'id="strict_route"', b'id="twice"')
    response = deploy(api, ("twice.dmn", edited), ("twice_old.dmn", edited.replace(b'"ast"', b'"ssf"')))
    assert response.status_code == 400
    assert response.json["error"]["details"]["files"] == {
        "twice.dmn": ["decision twice is in both twice.dmn and twice_old.dmn: deploy one of them"],
        "twice_old.dmn": ["decision twice is in both twice.dmn and twice_old.dmn: deploy one of them"]}
    assert all(d["key"] != "twice" for d in api.get("/decisions").json)


CHASE = b'<bpmn:userTask id="chase" name="Chase visit">'


@pytest.mark.parametrize("change,expected", [
    ((CHASE, b'<bpmn:serviceTask id="chase" name="Chase visit" camunda:type="external" camunda:topic="letters">'),
     "service task chase (Chase visit): service tasks are not run by Pathways"),
    ((CHASE, b'<bpmn:scriptTask id="chase" name="Chase visit" scriptFormat="groovy">'),
     "script task chase (Chase visit): scripts in groovy are not run by Pathways"),
    ((CHASE, b'<bpmn:userTask id="chase" name="Chase visit" camunda:formRef="chaseForm">'),
     "user task chase (Chase visit): camunda:formRef is not supported: Camunda Forms"),
    ((CHASE, b'<bpmn:userTask id="chase" name="Chase visit" camunda:formKey="embedded:app:chase.html">'),
     "user task chase (Chase visit): camunda:formKey is not supported"),
    ((CHASE, CHASE + b'<bpmn:extensionElements><camunda:taskListener event="create" class="x.Notify" />'
                     b'</bpmn:extensionElements>'),
     "user task chase (Chase visit): a task listener: it would not run"),
    ((b'<bpmn:sequenceFlow id="f2" sourceRef="visit" targetRef="wait_police" />',
      b'<bpmn:sequenceFlow id="f2" sourceRef="visit" targetRef="gw" /><bpmn:exclusiveGateway id="gw" name="Seen?" />'
      b'<bpmn:sequenceFlow id="f_yes" name="Yes" sourceRef="gw" targetRef="wait_police">'
      b'<bpmn:conditionExpression>seen</bpmn:conditionExpression></bpmn:sequenceFlow>'
      b'<bpmn:sequenceFlow id="f_no" name="No" sourceRef="gw" targetRef="done" />'),
     "exclusive gateway gw (Seen?): sequence flow f_no (No) has no condition: give it one, or make it the "
     "gateway's default flow"),
    ((CHASE, b'<bpmn:callActivity id="chase" name="Chase visit" calledElement="nel_strategy_to_icpc">'),
     "call activity chase (Chase visit) calls process 'nel_strategy_to_icpc', which is not in this deployment: "
     "deploy nel_strategy_to_icpc's file with it"),
    ((b"<bpmn:definitions ", b'<bpmn:definitions xmlns:modeler="http://camunda.org/schema/modeler/1.0" '
                             b'modeler:executionPlatform="Camunda Cloud" '),
     "this diagram is for Camunda 8 (Zeebe)"),
])
def test_what_pathways_would_not_run_as_drawn_is_refused_naming_the_element(api, change, expected):
    diagram = renamed("unsupported").replace(*change)
    if change[0] == CHASE and not change[1].startswith(b"<bpmn:userTask"):  # the element's end tag too
        kind = change[1].split(b" ")[0][1:]
        diagram = diagram.replace(b'<bpmn:outgoing>f6</bpmn:outgoing></bpmn:userTask>',
                                  b'<bpmn:outgoing>f6</bpmn:outgoing></' + kind + b'>')
    response = deploy(api, ("unsupported.bpmn", diagram))
    assert response.status_code == 400, response.json
    problems = response.json["error"]["details"]["files"]["unsupported.bpmn"]
    assert any(p.startswith(expected) for p in problems), problems


def test_a_step_the_diagram_has_no_way_on_for_is_refused_in_words_and_nothing_changes(api):
    gateway = (b'<bpmn:sequenceFlow id="f2" sourceRef="visit" targetRef="gw" /><bpmn:exclusiveGateway id="gw" '
               b'name="Child seen?" /><bpmn:sequenceFlow id="f_yes" sourceRef="gw" targetRef="wait_police">'
               b'<bpmn:conditionExpression>variable("seen") == True</bpmn:conditionExpression></bpmn:sequenceFlow>'
               b'<bpmn:sequenceFlow id="f_no" sourceRef="gw" targetRef="done">'
               b'<bpmn:conditionExpression>variable("seen") == False</bpmn:conditionExpression></bpmn:sequenceFlow>')
    diagram = renamed("no_way_on").replace(
        b'<bpmn:sequenceFlow id="f2" sourceRef="visit" targetRef="wait_police" />', gateway)
    assert deploy(api, ("no_way_on.bpmn", diagram)).status_code == 201
    instance = api.post("/process-definitions/no_way_on/start",
                        {"variables": {"childId": "C-1", "referralReceivedAt": "2026-12-01T08:00:00Z"}}).json
    (visit,) = [t for t in instance["activeTasks"] if t["activityId"] == "visit"]
    response = api.as_("nel.ai.sw1").post(f"/tasks/{visit['id']}/complete", {"variables": {"visitDate": "2026-12-01"}})
    assert response.status_code == 422
    assert response.json["error"]["message"].startswith(
        "The pathway has no way on from 'Child seen?' for these answers, so nothing was saved")
    assert api.get(f"/tasks/{visit['id']}").json["status"] == "active"


def test_a_group_nobody_is_in_is_deployed_with_a_warning(api):
    # Users may come after the deploy (or at sign-in), so not refused; but said.
    typo = renamed("nobody_tray").replace(b'value="nel-ai-sw"', b'value="nel-ai-sx"')
    response = deploy(api, ("nobody_tray.bpmn", typo))
    assert response.status_code == 201
    assert response.json["warnings"] == [
        "nobody_tray: no user is in group nel-ai-sx, which user task visit (Visit), user task chase (Chase visit) "
        "are for: they will wait in nobody's tray until someone is"]
    assert deploy(api, ("smoke_flow.bpmn", SMOKE)).json["warnings"] == []


def _choosing(yes: bytes, no: bytes | None) -> bytes:
    """smoke_flow with a choice after the visit: `decision` (yes / no / later) and a gateway."""
    diagram = renamed("choosing").replace(SEEN, SEEN + (
        b'<camunda:formField id="decision" label="Decision" type="enum"><camunda:value id="yes" name="Yes" />'
        b'<camunda:value id="no" name="No" /><camunda:value id="later" name="Decide later" /></camunda:formField>'))
    flows = (b'<bpmn:sequenceFlow id="f2" sourceRef="visit" targetRef="gw" /><bpmn:exclusiveGateway id="gw" '
             b'name="Decided?" /><bpmn:sequenceFlow id="f_yes" name="Yes" sourceRef="gw" targetRef="wait_police">'
             b'<bpmn:conditionExpression>' + yes + b'</bpmn:conditionExpression></bpmn:sequenceFlow>')
    if no is not None:
        flows += (b'<bpmn:sequenceFlow id="f_no" name="No" sourceRef="gw" targetRef="done">'
                  b'<bpmn:conditionExpression>' + no + b'</bpmn:conditionExpression></bpmn:sequenceFlow>')
    return diagram.replace(b'<bpmn:sequenceFlow id="f2" sourceRef="visit" targetRef="wait_police" />', flows)


@pytest.mark.parametrize("yes,no,expected", [
    (b'decision == "Yes"', b'decision in ("no", "later")',
     "sequence flow f_yes (Yes): its condition compares decision with 'Yes', which is not one of its options "
     "(yes, no, later)"),  # and so the yes option has no way on (the second problem, below)
    (b'decision == "yes"', b'decision == "no"',
     "exclusive gateway gw (Decided?): no way on when decision is 'later': give that option a flow, or make one "
     "flow the gateway's default"),
])
def test_a_choice_the_conditions_misread_or_leave_out_is_refused(api, yes, no, expected):
    # A case answered that way would have nowhere to go: found at deploy, not by a worker.
    response = deploy(api, ("choosing.bpmn", _choosing(yes, no)))
    assert response.status_code == 400
    assert expected in response.json["error"]["details"]["files"]["choosing.bpmn"]


def test_a_choice_every_option_of_which_has_a_way_on_deploys(api):
    assert deploy(api, ("choosing.bpmn", _choosing(b'decision == "yes"', b'decision in ("no", "later")'))).status_code == 201


def test_a_decision_that_now_reads_what_a_pathway_never_records_is_deployed_with_a_warning(api):
    import re

    # A new input (the child's age) for the track decision nel_section17 runs, bound to its
    # latest version: every case reaching it would go into incident.
    table = (ROOT / "dmn" / "nel_assessment_track.dmn").read_bytes()
    table = table.replace(b'      <output id="output_assessment_days"', b'      <input id="input_child_age" label="Age">'
                          b'<inputExpression id="input_child_age_expression" typeRef="number"><text>childAge</text>'
                          b'</inputExpression></input>\n      <output id="output_assessment_days"')
    table = re.sub(rb"(\s*)<outputEntry", lambda m: b"<inputEntry><text>-</text></inputEntry>" + m.group(1)
                   + b"<outputEntry", table)
    response = deploy(api, ("nel_assessment_track.dmn", table))
    assert response.status_code == 201, response.json
    assert ("decision nel_assessment_track now reads childAge, which nel_section17 never records: its cases will go "
            "into incident when they reach the decision, until it does (or its business rule task is bound to the "
            "version deployed with it)") in response.json["warnings"]
    # Put back as it was, for the suite's other tests.
    assert deploy(api, ("nel_assessment_track.dmn", (ROOT / "dmn" / "nel_assessment_track.dmn").read_bytes())
                  ).status_code == 201


def test_a_document_template_that_does_not_exist_is_refused(api):
    bad = SMOKE.replace(SEEN, b'<camunda:formField id="seen" label="Child seen" type="boolean" />').replace(
        b'<camunda:formData>', b'<camunda:properties><camunda:property name="document" value="leter" />'
                               b'</camunda:properties><camunda:formData>', 1)
    response = deploy(api, ("smoke_flow.bpmn", bad))
    assert response.status_code == 400
    assert "no document template 'leter'" in str(response.json["error"]["details"])



def test_a_requiredwhen_that_cannot_be_worked_out_is_a_clear_422_and_nothing_changes(api):
    # Deploy-time checks catch syntax, not a name the case never has.
    start_field = (b'<camunda:formField id="childId" label="Child" type="string"><camunda:validation>'
                   b'<camunda:constraint name="required" /></camunda:validation></camunda:formField>')
    guarded = b'<camunda:formField id="childId" label="Child" type="string"><camunda:properties>' \
              b'<camunda:property id="requiredWhen" value="${noSuchVariable > 1}" /></camunda:properties></camunda:formField>'
    seen = b'<camunda:formField id="seen" label="Child seen" type="boolean"><camunda:properties>' \
           b'<camunda:property id="requiredWhen" value="${noSuchVariable > 1}" /></camunda:properties></camunda:formField>'
    bad_start = renamed("unworkable_start").replace(start_field, guarded)
    bad_task = renamed("unworkable_task").replace(SEEN, seen)
    assert deploy(api, ("s.bpmn", bad_start), ("t.bpmn", bad_task)).status_code == 201
    variables = {"childId": "C", "referralReceivedAt": "2026-12-02"}

    refused = api.post("/process-definitions/unworkable_start/start", {"variables": variables})
    assert refused.status_code == 422 and "requiredWhen" in refused.json["error"]["message"]
    assert [i for i in api.get("/process-instances").json if i["definitionKey"] == "unworkable_start"] == []

    started = api.post("/process-definitions/unworkable_task/start", {"variables": variables}).json
    visit = started["activeTasks"][0]
    refused = api.as_("nel.ai.sw1").post(f"/tasks/{visit['id']}/complete",
                                         {"variables": {"visitDate": "2026-12-03", "seen": True}})
    assert refused.status_code == 422 and "requiredWhen" in refused.json["error"]["message"]
    assert api.get(f"/tasks/{visit['id']}").json["status"] == "active"


def test_a_hand_over_to_a_pathway_that_is_not_deployed_is_refused(api):
    outcome = b'<camunda:property name="outcome" value="close" />'
    # A process of its own: the suite's other tests start smoke_flow's latest version.
    flow = SMOKE.replace(b"smoke_flow", b"hand_over_flow")
    bad = flow.replace(outcome, outcome + b'<camunda:property name="handOverTo" value="cin_teem" />')
    response = deploy(api, ("hand_over_flow.bpmn", bad))
    assert response.status_code == 400
    assert response.json["error"]["details"]["files"]["hand_over_flow.bpmn"] == [
        "end event done hands the case over to 'cin_teem', a process neither in this deployment nor deployed before"]
    # A pathway deployed before may be named, alone in a later deployment.
    assert deploy(api, ("hand_over_target.bpmn", TARGET)).status_code == 201
    good = flow.replace(outcome, outcome + b'<camunda:property name="handOverTo" value="hand_over_target" />')
    assert deploy(api, ("hand_over_flow.bpmn", good)).status_code == 201


def test_a_hand_over_the_sender_cannot_give_what_the_receiver_requires_is_refused(api):
    # smoke_flow records a visit, not what the CIN team's start form asks of a transfer: the
    # step ending the case there would be refused for ever and the child held by nobody.
    outcome = b'<camunda:property name="outcome" value="close" />'
    flow = SMOKE.replace(b"smoke_flow", b"hand_over_short").replace(
        outcome, outcome + b'<camunda:property name="handOverTo" value="cin_team" />')
    response = deploy(api, ("hand_over_short.bpmn", flow))
    assert response.status_code == 400
    (problem,) = response.json["error"]["details"]["files"]["hand_over_short.bpmn"]
    assert problem.startswith("hand_over_short hands cases over to cin_team, whose start form requires ")
    assert "source" in problem and "which hand_over_short never records" in problem
    # And the other way: a receiving form now requiring what a deployed sender never records.
    assert deploy(api, ("hand_over_target.bpmn", TARGET)).status_code == 201
    sender = SMOKE.replace(b"smoke_flow", b"hand_over_sender").replace(
        outcome, outcome + b'<camunda:property name="handOverTo" value="hand_over_target" />')
    assert deploy(api, ("hand_over_sender.bpmn", sender)).status_code == 201
    stricter = TARGET.replace(b'<camunda:formField id="childId" label="Child" type="string">',
                              b'<camunda:formField id="panelDate" label="Panel" type="date"><camunda:validation>'
                              b'<camunda:constraint name="required" /></camunda:validation></camunda:formField>'
                              b'<camunda:formField id="childId" label="Child" type="string">')
    response = deploy(api, ("hand_over_target.bpmn", stricter))
    assert response.status_code == 400
    assert any(p.startswith("hand_over_sender hands cases over to hand_over_target, whose start form requires "
                            "panelDate, which hand_over_sender never records")
               for p in response.json["error"]["details"]["files"]["hand_over_target.bpmn"])


TARGET = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="target_defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="hand_over_target" name="Receiving pathway" isExecutable="true">
    <bpmn:startEvent id="received">
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="childId" label="Child" type="string"><camunda:properties>
          <camunda:property id="requiredWhen" value="${no_such_answer == 1}" /></camunda:properties></camunda:formField>
      </camunda:formData></bpmn:extensionElements>
      <bpmn:outgoing>t1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:endEvent id="taken"><bpmn:incoming>t1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="t1" sourceRef="received" targetRef="taken" />
  </bpmn:process>
</bpmn:definitions>"""


def test_a_hand_over_the_receiving_start_form_cannot_work_out_refuses_the_step_and_keeps_the_case(api):
    # The receiving pathway's start form cannot be worked out (a requiredWhen naming an answer
    # nobody gives): the message that would end the case is refused with why, and the case
    # stays where it was, waiting; nothing is started.
    outcome = b'<camunda:property name="outcome" value="close" />'
    source = SMOKE.replace(b"smoke_flow", b"hand_over_source").replace(
        outcome, outcome + b'<camunda:property name="handOverTo" value="hand_over_target" />')
    assert deploy(api, ("hand_over_source.bpmn", source), ("hand_over_target.bpmn", TARGET)).status_code == 201
    started = api.post("/process-definitions/hand_over_source/start", {"businessKey": "HO-1", "variables": {
        "childId": "C-HO", "referralReceivedAt": "2026-12-01T08:00:00Z"}}).json
    (visit,) = started["activeTasks"]
    assert api.as_("nel.ai.sw1").post(f"/tasks/{visit['id']}/complete",
                                      {"variables": {"visitDate": "2026-12-01"}}).status_code == 200
    response = api.post("/messages", {"messageName": "policeUpdate", "businessKey": "HO-1"})
    assert response.status_code == 422
    assert response.json["error"]["message"].startswith("the case cannot be handed over to Receiving pathway:")
    assert "no_such_answer" in response.json["error"]["message"]
    assert api.get(f"/process-instances/{started['id']}").json["status"] == "active"
    assert [i["definitionKey"] for i in api.get("/process-instances", businessKey="HO-1").json] == ["hand_over_source"]
