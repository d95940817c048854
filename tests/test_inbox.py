"""The staff inbox in a browser's place (Flask's test client): sign in, the trays with due
dates in words, claiming, a GOV.UK form with an error summary that keeps what was typed, and
moving on to the next task in the case."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import TEST_NOW, statements_sent
from steps import work
from werkzeug.security import generate_password_hash

from app.extensions import db
from app.models import AuditEvent, User

PASSWORD = "correct horse battery"


@pytest.fixture
def browser(app):
    with app.app_context():
        for user_id in ("nel.ai.atm", "nel.ai.sw1", "nel.ai.sw2", "nel.ifd.atm", "durham.ehtw", "cin.tm"):
            user = db.session.get(User, user_id)
            user.password_hash = generate_password_hash(PASSWORD)
            user.failed_sign_ins, user.locked_until = 0, None  # users outlive each test
        db.session.commit()
    return app.test_client()


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, user, password=PASSWORD):
    page = client.get("/sign-in").get_data(as_text=True)
    return client.post("/sign-in", data={"username": user, "password": password, "csrf_token": csrf(page)})


def start_referral(api, received="2026-12-01T08:00:00Z", ref="REF-7", child="C-7"):
    return api.post("/process-definitions/nel_section17/start", {"businessKey": ref, "variables": {
        "childId": child, "referralId": ref, "referralReceivedAt": received,
        "strategyDiscussionRecommended": False}}).json


def cells(page: str, table_id: str) -> list[list[str]]:
    """The rows of one table of a page, as the text of their cells."""
    table = re.search(rf'<table class="govuk-table" id="{table_id}">(.*?)</table>', page, re.S).group(1)
    return [[re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)][1:]


def test_signing_in(app, browser):
    assert browser.get("/").headers["Location"].startswith("/sign-in")
    wrong = sign_in(browser, "nel.ai.atm", "nope")
    assert wrong.status_code == 400 and "Enter a correct username and password" in wrong.get_data(as_text=True)
    assert "There is a problem" in wrong.get_data(as_text=True)
    assert sign_in(browser, "nel.ai.atm").status_code == 302
    assert "Signed in as" in browser.get("/").get_data(as_text=True)
    with app.app_context():
        assert ("nel.ai.atm", {"method": "password"}) in [(e.user, e.details) for e in db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.type == "signed_in")).scalars()]
    page = browser.get("/").get_data(as_text=True)
    browser.post("/sign-out", data={"csrf_token": csrf(page)})
    assert browser.get("/").status_code == 302


def test_forms_need_the_csrf_token(browser):
    assert browser.post("/sign-in", data={"username": "nel.ai.atm", "password": PASSWORD}).status_code == 400


def test_the_tray_claim_an_error_then_the_next_task(browser, api):
    instance = start_referral(api)
    sign_in(browser, "nel.ai.atm")
    inbox = browser.get("/").get_data(as_text=True)
    assert "Tray: A&amp;I assistant team managers (1)" in inbox
    assert "Review referral in awaiting allocation tray" in inbox
    assert "Your tasks (0) · unclaimed in your trays (1)" in inbox
    assert "due today" in inbox  # the tray is reviewed the working day the referral arrives
    (task,) = instance["activeTasks"]
    page = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "Review the referral the IFD has sent" in page  # what the step is for
    browser.post(f"/tasks/{task['id']}/claim", data={"csrf_token": csrf(page)})
    page = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "Release this task" in page and "Assigned to you (1)" in browser.get("/").get_data(as_text=True)
    assert "Your tasks (1) · unclaimed in your trays (0)" in browser.get("/").get_data(as_text=True)
    # Nothing chosen: an error summary linking to the field; the notes typed are kept.
    response = browser.post(f"/tasks/{task['id']}", data={"csrf_token": csrf(page), "reviewNotes": "Seen by IFD"})
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and "There is a problem" in body
    assert 'href="#reviewDecision"' in body and "Select decision" in body and "Seen by IFD" in body
    response = browser.post(f"/tasks/{task['id']}", data={"csrf_token": csrf(page), "reviewDecision": "accept"})
    assert response.status_code == 302
    following = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "<h1 class=\"govuk-heading-l\">Allocation discussion with the social worker</h1>" in following
    assert "is done" in following


def test_a_task_of_another_teams_case_is_not_found(browser, api):
    (task,) = start_referral(api)["activeTasks"]
    sign_in(browser, "durham.ehtw")
    assert browser.get(f"/tasks/{task['id']}").status_code == 404
    assert browser.get(f"/cases/{task['processInstanceId']}").status_code == 404
    assert "Review referral" not in browser.get("/").get_data(as_text=True)


def test_a_team_mates_task_is_shown_but_not_worked(browser, api):
    (task,) = start_referral(api)["activeTasks"]
    sign_in(browser, "nel.ai.sw1")
    page = browser.get(f"/tasks/{task['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "This task is not yours to work." in html and "Claim this task" not in html
    assert "Review referral" not in browser.get("/").get_data(as_text=True)
    refused = browser.post(f"/tasks/{task['id']}/claim", data={"csrf_token": csrf(html)})
    assert refused.status_code == 403 and "You cannot do this" in refused.get_data(as_text=True)


def test_a_task_a_colleague_has_claimed_shows_who_without_a_form_to_fill_for_nothing(browser, api):
    instance = start_referral(api)
    instance = work(api, instance, "duty_atm_review", "nel.ai.atm", reviewDecision="accept")
    instance = work(api, instance, "allocation_discussion", "nel.ai.atm", allocatedWorker="nel.ai.sw1",
                    visitPlan="Visit", managementCaseNoteRecorded=True)
    (visit,) = instance["activeTasks"]
    sign_in(browser, "nel.ai.sw2")
    html = browser.get(f"/tasks/{visit['id']}").get_data(as_text=True)
    assert "has claimed this task. Ask them, or a" in html
    assert "Save and continue" not in html and "Release this task" not in html
    sign_in(browser, "nel.ai.sw1")
    assert "Save and continue" in browser.get(f"/tasks/{visit['id']}").get_data(as_text=True)


def test_dates_are_read_from_day_month_and_year(browser, api):
    instance = start_referral(api)
    work = lambda activity, user, **v: api.as_(user).post(  # noqa: E731
        f"/tasks/{[t for t in instance['activeTasks'] if t['activityId'] == activity][0]['id']}/complete",
        {"variables": v}).json
    instance = work("duty_atm_review", "nel.ai.atm", reviewDecision="accept")
    instance = work("allocation_discussion", "nel.ai.atm", allocatedWorker="nel.ai.sw1", visitPlan="Visit",
                    managementCaseNoteRecorded=True)
    (visit,) = instance["activeTasks"]
    sign_in(browser, "nel.ai.sw1")
    page = browser.get(f"/tasks/{visit['id']}").get_data(as_text=True)
    bad = browser.post(f"/tasks/{visit['id']}", data={"csrf_token": csrf(page), "visitDate-day": "31",
                                                      "visitDate-month": "2", "visitDate-year": "2027",
                                                      "childSeen": "true"})
    assert bad.status_code == 400 and "must be a real date" in bad.get_data(as_text=True)
    # Every problem at once: the unreadable date and the question left unanswered.
    both = browser.post(f"/tasks/{visit['id']}", data={"csrf_token": csrf(page), "visitDate-day": "31",
                                                       "visitDate-month": "2", "visitDate-year": "2027"})
    summary = re.search(r'govuk-error-summary__list">(.*?)</ul>', both.get_data(as_text=True), re.S).group(1)
    assert "must be a real date" in summary and "Select" in summary, summary
    # The suite's clock is Tue 1 Dec 2026: a visit on the 2nd has not happened yet.
    future = browser.post(f"/tasks/{visit['id']}", data={"csrf_token": csrf(page), "visitDate-day": "2",
                                                         "visitDate-month": "12", "visitDate-year": "2026",
                                                         "childSeen": "true"})
    assert future.status_code == 400
    assert "Date of the initial visit must be today or in the past" in future.get_data(as_text=True)
    good = browser.post(f"/tasks/{visit['id']}", data={"csrf_token": csrf(page), "visitDate-day": "1",
                                                       "visitDate-month": "12", "visitDate-year": "2026",
                                                       "childSeen": "true"})
    assert good.status_code == 302
    history = api.get(f"/process-instances/{instance['id']}").json
    assert history["variables"]["visitDate"] == "2026-12-01" and history["variables"]["childSeen"] is True


def test_a_date_and_time_needs_its_time_and_its_error_leads_to_the_day_box(browser, api, app):
    import test_nel_strategy_to_icpc as strategy

    with app.app_context():
        user = db.session.get(User, "nel.ai.tm")
        user.password_hash, user.failed_sign_ins, user.locked_until = generate_password_hash(PASSWORD), 0, None
        db.session.commit()
    instance = strategy.start(api)
    (task,) = instance["activeTasks"]
    sign_in(browser, "nel.ai.tm")
    page = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)
    # A deadline counted in hours from the discussion: the date alone would be read as midnight.
    answer = browser.post(f"/tasks/{task['id']}", data={
        "csrf_token": csrf(page), "policeDdm": "DI Shaw", "thresholdDecision": "met",
        "thresholdRationale": "Injury to a non-mobile baby", "strategyDiscussionAt-day": "1",
        "strategyDiscussionAt-month": "12", "strategyDiscussionAt-year": "2026"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert '<a href="#strategyDiscussionAt-day">Time set for the strategy discussion: enter the time as well, like 14:30</a>' in html
    assert html.count("govuk-input--error") == 3  # the day, month and year boxes


def test_the_design_system_assets_are_served(browser):
    for path in ("/assets/govuk-frontend.min.css", "/assets/images/favicon.svg", "/favicon.ico"):
        response = browser.get(path)
        response.close()  # the file stays open until the response is closed
        assert response.status_code == 200


def test_a_case_handed_over_links_the_two_cases(browser, api):
    import test_nel_section17 as nel  # as a module: its tests are not collected again here

    ended = nel.finish(api, nel.assess(api, nel.allocate(api, nel.start(api))), "transfer_cin_team")
    history = api.get(f"/process-instances/{ended['id']}/history").json
    cin_id = next(e for e in history if e["type"] == "handed_over")["details"]["processInstanceId"]
    nel.from_inbox(api, "cin.tm", "allocate", cinSocialWorker="cin.sw")
    sign_in(browser, "cin.tm")
    page = browser.get(f"/cases/{cin_id}").get_data(as_text=True)
    assert "Pathway started: handed over from Section 17 allocation and assessment (North East Lincolnshire A&amp;I)" in page
    # The CIN team holds the child now; the A&amp;I case it came from is theirs to read.
    assert f'href="/cases/{ended["id"]}"' in page
    a_and_i = browser.get(f"/cases/{ended['id']}").get_data(as_text=True)
    assert "Case handed over: goes on in Child in Need team (North East Lincolnshire pilot)" in a_and_i and f'href="/cases/{cin_id}"' in a_and_i


def test_a_field_another_answer_makes_required_is_not_labelled_optional(browser, api):
    import test_nel_section17 as nel

    instance = nel.awaiting_outcome(api, "transfer_cin_team", "Longer-term support")
    sign_in(browser, "nel.ai.atm")
    page = browser.get(f"/tasks/{nel.active(instance, 'agree_assessment_outcome')['id']}").get_data(as_text=True)
    labels = [" ".join(m.split()) for m in re.findall(r"<(?:label|legend)[^>]*>(.*?)</(?:label|legend)>", page, re.S)]
    assert "Expected weeks of CIN support (for a transfer to the CIN team)" in labels
    assert "Rationale for the outcome" in labels and not any("(optional)" in label for label in labels[1:])


def test_the_worker_allocated_is_chosen_from_the_social_workers_who_do_the_visit(browser, api):
    import test_nel_section17 as nel

    instance = nel.work(api, nel.start(api), "duty_atm_review", nel.ATM, reviewDecision="accept")
    sign_in(browser, "nel.ai.atm")
    page = browser.get(f"/tasks/{nel.active(instance, 'allocation_discussion')['id']}").get_data(as_text=True)
    (select,) = re.findall(r'<select[^>]*name="allocatedWorker"[^>]*>(.*?)</select>', page, re.S)
    choices = re.findall(r'<option value="([^"]*)"', select)
    assert choices[0] == "" and sorted(choices[1:]) == ["nel.ai.sw1", "nel.ai.sw2"]  # nel-ai-sw, no one else


def test_the_manager_agreeing_the_outcome_sees_what_the_social_worker_recorded(browser, api):
    import test_nel_section17 as nel

    instance = nel.awaiting_outcome(api, "close")
    sign_in(browser, "nel.ai.atm")
    page = browser.get(f"/tasks/{nel.active(instance, 'agree_assessment_outcome')['id']}").get_data(as_text=True)
    recorded = page[page.index('id="recorded"'):page.index("<form", page.index('id="recorded"'))]
    text = " ".join(re.sub(r"<[^>]+>", " ", recorded).split())
    # The latest step first, in its form's words: the recommendation, the summary, the dates.
    assert text.index("Single assessment: A&amp;I Social Worker") < text.index("Formal supervision after the initial visit")
    assert "Needs met by universal services" in text and "6 January 2027" in text
    # The worker allocated by the name staff know, not the user id.
    assert "Social worker allocated A&amp;I Social Worker (Sam)" in text
    case = browser.get(f"/cases/{instance['id']}").get_data(as_text=True)
    assert 'id="recorded"' in case and "Summary of the assessment" in case


def test_the_case_page(browser, api):
    instance = start_referral(api)
    (task,) = instance["activeTasks"]
    api.as_("nel.ai.atm").post(f"/tasks/{task['id']}/complete", {"variables": {"reviewDecision": "accept"}})
    sign_in(browser, "nel.ai.atm")
    page = browser.get(f"/cases/{instance['id']}").get_data(as_text=True)
    assert "Case REF-7" in page and "Allocation discussion with the social worker" in page
    assert 'data-current="allocation_discussion twelve_week_limit"' in page  # the step and the waiting timer
    assert 'data-done="duty_atm_review' in page
    # The diagram's text alternative, there with or without JavaScript: the steps by name.
    steps = re.search(r'<ul class="govuk-list govuk-list--bullet" id="current-steps">(.*?)</ul>', page, re.S).group(1)
    assert re.findall(r"<li>(.*?)</li>", steps) == [
        "Allocation discussion with the social worker: no due date",
        "Waiting for: 12 weeks since the referral (23 February 2027)"]
    assert 'aria-describedby="current-steps"' in page
    # The timeline names who did each step as staff know them, not by user id.
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*Task completed: Review referral in awaiting allocation tray.*?</tr>",
                    page, re.S).group(0)
    assert "A&amp;I Assistant Team Manager" in row and "nel.ai.atm" not in row
    diagram = browser.get(f"/cases/{instance['id']}/diagrams/nel_section17.bpmn")
    assert diagram.status_code == 200 and b'id="nel_section17"' in diagram.data
    # The pathway it calls is drawn too, so steps inside it can be highlighted.
    assert 'id="diagram-nel_strategy_to_icpc"' in page
    called = browser.get(f"/cases/{instance['id']}/diagrams/nel_strategy_to_icpc.bpmn")
    assert called.status_code == 200 and b'id="nel_strategy_to_icpc"' in called.data
    assert browser.get(f"/cases/{instance['id']}/diagrams/durham_one_point.bpmn").status_code == 404
    history = api.get(f"/process-instances/{instance['id']}/history").json
    assert history[-1]["type"] == "case_viewed" and history[-1]["user"] == "nel.ai.atm"


def test_start_a_pathway_from_the_inbox(browser, api):
    sign_in(browser, "nel.ai.atm")
    listing = browser.get("/start").get_data(as_text=True)
    assert "Section 17 allocation and assessment" in listing
    assert "Seeing the child" not in listing  # called by other pathways only: no start form
    page = browser.get("/start/nel_section17").get_data(as_text=True)
    missing = browser.post("/start/nel_section17", data={"csrf_token": csrf(page), "childId": "C-20"})
    body = missing.get_data(as_text=True)
    assert missing.status_code == 400 and "Enter the case reference" in body and "Enter referral ID" in body
    started = browser.post("/start/nel_section17", data={
        "csrf_token": csrf(page), "businessKey": "REF-20", "childId": "C-20", "referralId": "REF-20",
        "referralReceivedAt-day": "1", "referralReceivedAt-month": "12", "referralReceivedAt-year": "2026",
        "strategyDiscussionRecommended": "false"})
    assert started.status_code == 302 and "/cases/" in started.headers["Location"]
    case = browser.get(started.headers["Location"]).get_data(as_text=True)
    assert "Case REF-20" in case and "Review referral in awaiting allocation tray" in case
    # The family's children are a list only the API can give: no input for them here.
    durham = browser.get("/start/durham_one_point")
    assert durham.status_code == 200 and 'name="requestReceivedAt-day"' in durham.get_data(as_text=True)
    assert 'name="children"' not in durham.get_data(as_text=True)
    sign_in(browser, "nel.ai.sw1")
    assert browser.get("/start").status_code == 404  # social workers do not start pathways


def test_a_manager_assigns_to_a_colleague(browser, api):
    (task,) = start_referral(api)["activeTasks"]
    sign_in(browser, "nel.ai.atm")
    page = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "Assign to a colleague" in page and "nel.ai.atm" in page
    browser.post(f"/tasks/{task['id']}/assign", data={"csrf_token": csrf(page), "userId": "nel.ai.atm"})
    assert api.as_("nel.ai.atm").get(f"/tasks/{task['id']}").json["assignee"] == "nel.ai.atm"


@pytest.fixture
def clock(app, monkeypatch):
    """Move time: the engine's clock and the clock the audit trail is written by, together."""
    from app.services import projection

    instant = {"now": TEST_NOW}
    monkeypatch.setattr(app.extensions["pathways.engine"], "clock", lambda: instant["now"])
    monkeypatch.setattr(projection, "now", lambda: instant["now"])
    return lambda **later: instant.update(now=TEST_NOW + timedelta(**later))


def test_times_and_dates_are_london_time_in_summer(browser, api, clock):
    # 00:30 on 15 July by London's clock is 23:30 on 14 July by UTC, the stored time.
    clock(days=225, hours=14, minutes=30)  # Wed 14 July 2027 23:30 UTC
    instance = start_referral(api, received="2027-07-14T23:30:00Z", ref="REF-BST")
    instance = work(api, instance, "duty_atm_review", "nel.ai.atm", reviewDecision="accept")
    sign_in(browser, "nel.ai.atm")
    page = browser.get(f"/cases/{instance['id']}").get_data(as_text=True)
    # The timeline (the case's start is the wall clock's, which this test does not move).
    assert "15 Jul 2027 00:30" in page and "14 Jul 2027" not in page
    # 12 weeks from 15 July is 7 October (stored as 23:30 UTC on the 6th).
    assert "Waiting for: 12 weeks since the referral (7 October 2027)" in page


@pytest.mark.parametrize("now,due,words", [
    # A 24-hour deadline set on a Friday falls on the Saturday, not the next working day.
    ("2026-12-04T03:17:00Z", "2026-12-05T03:17:00Z", "due tomorrow (Saturday 5 December at 03:17)"),
    ("2026-12-04T09:00:00Z", "2026-12-04T15:00:00Z", "due today at 15:00"),
    ("2026-12-04T09:00:00Z", "2026-12-04T23:59:59Z", "due today"),
    ("2026-12-04T09:00:00Z", "2026-12-08T23:59:59Z", "due in 2 working days (Tuesday 8 December)"),
    ("2026-12-08T09:00:00Z", "2026-12-04T23:59:59Z", "overdue by 2 working days (due Friday 4 December)"),
    # In summer time, London's day and hour.
    ("2027-07-01T09:00:00Z", "2027-07-01T22:59:59Z", "due today"),
])
def test_due_words_give_the_day_and_a_deadline_set_in_hours_its_time(now, due, words):
    from datetime import datetime

    from app.calendar import WorkingCalendar
    from app.web.due import due_words

    assert due_words(WorkingCalendar(), datetime.fromisoformat(due), datetime.fromisoformat(now))[0] == words


def in_assessment(api, ref, child, received, visit, complexity):
    """A referral worked to the single assessment: the visit on ``visit``, the track decided."""
    instance = start_referral(api, received=received, ref=ref, child=child)
    instance = work(api, instance, "duty_atm_review", "nel.ai.atm", reviewDecision="accept")
    instance = work(api, instance, "allocation_discussion", "nel.ai.atm", allocatedWorker="nel.ai.sw1",
                    visitPlan="Visit", managementCaseNoteRecorded=True)
    instance = work(api, instance, "initial_visit", "nel.ai.sw1", visitDate=visit, childSeen=True)
    return work(api, instance, "formal_supervision", "nel.ai.atm", complexity=complexity,
                concernsEscalating=False, multipleAgencies=False, assessmentFocus="Neglect")


def test_the_manager_view(browser, api, clock):
    # Visit Thu 5 Nov, 10 working days: due Thu 19 Nov, so on Tue 1 Dec it is 8 days past.
    quiet = in_assessment(api, "REF-A", "C-A", "2026-11-02T09:00:00Z", "2026-11-05", "low")
    # Visit Mon 23 Nov, 35 working days: six working days gone on Tue 1 Dec.
    busy = in_assessment(api, "REF-B", "C-B", "2026-11-20T09:00:00Z", "2026-11-23", "high")
    # Both supervisions were held late (the TM's follow-ups) and REF-A's assessment is
    # overdue (the ATM's follow-up): the deadlines had passed when the steps became ready.
    # A follow-up is due when the deadline it follows up was, so it counts as overdue.
    sign_in(browser, "nel.ai.atm")
    page = browser.get("/team").get_data(as_text=True)
    assert cells_by_header(page, "open-tasks") == {
        "A&amp;I assistant team managers": ["1", "1"], "A&amp;I social workers": ["2", "1"],
        "A&amp;I team managers": ["2", "2"]}
    # The assessment steps only (marked timescale.assessment in the diagram), not the
    # follow-up task whose name says "assessment"; days counted from the visit.
    assert "Single assessment overdue: follow up" in browser.get("/").get_data(as_text=True)
    assert [(r[1], r[2], r[3], r[4]) for r in cells(page, "assessments")] == [
        ("REF-A", "Single assessment", "A&amp;I Social Worker (Sam)", "8 working days over its 10"),
        ("REF-B", "Single assessment", "A&amp;I Social Worker (Sam)", "day 6 of 35")]
    assert cells(page, "caseloads") == [["A&amp;I Social Worker (Sam)", "2", "none set"]]
    assert 'id="quiet"' not in page  # both cases had activity today
    # Five weeks on, REF-B has been worked and REF-A has not: 22 working days (Christmas,
    # Boxing Day and New Year's Day are not working days).
    clock(days=35)
    work(api, busy, "single_assessment", "nel.ai.sw1", assessmentCompletedOn="2027-01-05",
         recommendedOutcome="close", assessmentSummary="Needs met")
    page = browser.get("/team").get_data(as_text=True)
    (entry,) = re.findall(r'<ul class="govuk-list" id="quiet">(.*?)</ul>', page, re.S)
    assert "Case REF-A" in entry and "REF-B" not in entry
    assert "(child C-A): 22 working days since 1 December 2026" in entry
    assert quiet["id"] in entry
    sign_in(browser, "nel.ai.sw1")
    assert browser.get("/team").status_code == 404


def test_the_manager_view_reads_its_quiet_cases_in_one_query(browser, api, clock):
    started = [start_referral(api, ref=f"REF-Q{n}", child=f"C-Q{n}") for n in range(3)]
    clock(days=35)
    sign_in(browser, "nel.ai.atm")

    def quiet_page():
        with statements_sent(browser.application) as statements:
            page = browser.get("/team").get_data(as_text=True)
        (entry,) = re.findall(r'<ul class="govuk-list" id="quiet">(.*?)</ul>', page, re.S)
        return entry.count("<li>"), len(statements)

    quiet, statements = quiet_page()
    assert quiet == 3
    work(api, started[0], "duty_atm_review", "nel.ai.atm", reviewDecision="accept")
    # One case fewer is quiet, and the page sends as many statements: not one per case.
    assert quiet_page() == (2, statements)


def test_caseloads_against_the_ifst_guidance(browser, api):
    """IFST aims at about 25 children per key worker: the 26th child is over it."""
    def allocate(n):
        started = api.post("/process-definitions/durham_ifst_case/start", {"businessKey": f"EH-{n}", "variables": {
            "childId": f"C-{n}", "familyId": f"F-{n}", "leadProfessional": "durham.ifst.kw"}})
        assert started.status_code == 201, started.json

    for n in range(25):
        allocate(n)
    with browser.application.app_context():
        db.session.get(User, "durham.ifst.tm").password_hash = generate_password_hash(PASSWORD)
        db.session.commit()
    sign_in(browser, "durham.ifst.tm")
    assert cells(browser.get("/team").get_data(as_text=True), "caseloads") == [
        ["IFST Key Worker", "25", "about 25"]]
    allocate(25)
    assert cells(browser.get("/team").get_data(as_text=True), "caseloads") == [
        ["IFST Key Worker", "26", "about 25 – over the guidance"]]


def test_security_headers(browser):
    page = browser.get("/sign-in")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy and "frame-ancestors 'none'" in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert f'nonce="{nonce}"' in page.get_data(as_text=True)  # GOV.UK's js-enabled script
    assert page.headers["X-Content-Type-Options"] == "nosniff" and page.headers["X-Frame-Options"] == "DENY"
    assert "SameSite=Lax" in browser.get("/sign-in").headers.get("Set-Cookie", "SameSite=Lax")
    health = browser.get("/api/v1/health")
    assert health.headers["X-Content-Type-Options"] == "nosniff"


def test_five_wrong_passwords_lock_the_account(browser):
    for _ in range(5):
        assert sign_in(browser, "nel.ai.atm", "wrong").status_code == 400
    locked = sign_in(browser, "nel.ai.atm")  # even the right password, while locked
    assert locked.status_code == 400 and "this account is locked" in locked.get_data(as_text=True)
    assert sign_in(browser, "nel.ai.sw1").status_code == 302  # other accounts are not affected


def test_sign_out_everywhere(app, browser):
    other = app.test_client()
    sign_in(browser, "nel.ai.atm")
    sign_in(other, "nel.ai.atm")
    assert other.get("/").status_code == 200
    page = browser.get("/").get_data(as_text=True)
    browser.post("/sign-out", data={"csrf_token": csrf(page), "everywhere": "yes"})
    assert other.get("/").status_code == 302  # the other session no longer works


def cells_by_header(page: str, table_id: str) -> dict[str, list[str]]:
    """A table whose rows are headed: row header → the other cells."""
    table = re.search(rf'<table class="govuk-table" id="{table_id}">(.*?)</table>', page, re.S).group(1)
    return {re.search(r"<th[^>]*>(.*?)</th>", row, re.S).group(1): re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            for row in re.findall(r'<tr class="govuk-table__row"[^>]*>(.*?)</tr>', table, re.S)
            if 'scope="row"' in row}


def test_rows_name_the_child_the_group_and_who_claimed(browser, api):
    api.post("/children", {"id": "C-7", "name": "Alex Example"})
    (task,) = start_referral(api)["activeTasks"]
    start_referral(api, ref="REF-8", child="C-8")  # a child the register does not know
    sign_in(browser, "nel.ai.atm")
    page = browser.get("/").get_data(as_text=True)
    assert "Tray: A&amp;I assistant team managers (2)" in page and "nel-ai-atm (" not in page
    rows = cells(page, "tray-nel-ai-atm")
    assert [r[1:3] for r in rows] == [["Alex Example (C-7)", "REF-7"], ["C-8", "REF-8"]]
    assert {r[5] for r in rows} == {"Not claimed"}
    browser.post(f"/tasks/{task['id']}/claim", data={"csrf_token": csrf(page)})
    page = browser.get("/").get_data(as_text=True)
    assert cells(page, "mine")[0][5] == "A&amp;I Assistant Team Manager"  # the display name, not the user id
    task_page = browser.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "Alex Example (C-7)" in task_page and "A&amp;I assistant team managers" in task_page
    assert "A&amp;I Assistant Team Manager" in task_page
    case = browser.get(f"/cases/{task['processInstanceId']}").get_data(as_text=True)
    assert "Alex Example (C-7)" in case and "claimed by A&amp;I Assistant Team Manager" in case


def test_every_demo_group_has_a_plain_name():
    from app.demo import DEMO_USERS
    from app.web.labels import GROUP_LABELS, group_label

    groups = {g for _, _, user_groups, _, _ in DEMO_USERS for g in user_groups}
    assert groups - set(GROUP_LABELS) == set()
    assert group_label("nel-ai-sw") == "A&I social workers" and group_label("not-a-group") == "not-a-group"


def test_a_tray_groups_its_tasks_by_the_team_holding_the_case(browser, api):
    for child, team in (("C-7", "ast"), ("C-8", "ssf")):
        api.post("/children", {"id": child})
        api.post(f"/children/{child}/episodes", {"team": team, "status": "assessment",
                                                 "startedAt": "2026-11-02T09:00:00Z"})
    start_referral(api, received="2026-12-01T08:00:00Z", ref="REF-7", child="C-7")  # due today
    start_referral(api, received="2026-11-30T08:00:00Z", ref="REF-8", child="C-8")  # overdue: first
    start_referral(api, received="2026-12-01T08:00:00Z", ref="REF-9", child="C-9")  # no team holds C-9
    sign_in(browser, "nel.ai.atm")
    page = browser.get("/").get_data(as_text=True)
    assert "Tray: A&amp;I assistant team managers (3)</h2>" in page
    captions = re.findall(r'id="tray-nel-ai-atm-team-\d">\s*<caption[^>]*>([^<]*)</caption>', page)
    assert captions == ["Strengthening and Supporting Families (1)", "Assessment and Support Team (1)",
                        "No team recorded (1)"]
    assert [r[2] for r in cells(page, "tray-nel-ai-atm-team-1")] == ["REF-8"]
    # One team only: one table, no team headings.
    only = browser.get("/?pathway=nel_section17&overdue=yes").get_data(as_text=True)
    assert 'id="tray-nel-ai-atm"' in only and "team-1" not in only
