"""The inbox in a real browser: Playwright driving Debian's Chromium against a live server.

A referral worked by the team: the duty manager claims the review, submits it with an error
and then correctly and moves on to the allocation; the allocated social worker hands the
visit back to the tray, where a colleague claims it, submits it with an error and then
correctly; the supervision that follows is in the managers' tray, and the manager assigns it
to a colleague, in whose own list it then is. The case page draws the diagram with the
current step highlighted. On every page: axe-core (with WCAG 2.2's target size) reports no
serious or critical violation, headings do not skip a level, and a screenshot goes to
tests/output/; after an error, the error summary has the focus."""
from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from app.cli import _create_user
from conftest import make_app, seed

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
OUTPUT = Path(__file__).resolve().parent / "output"
PASSWORD = "correct horse battery"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists() or not AXE.exists(),
                                reason="Debian's Chromium or axe-core is not installed (make test installs them)")


@pytest.fixture(scope="module")
def server():
    from app.extensions import db
    from app.models import User

    app = make_app(f"sqlite:///{tempfile.mkdtemp()}/browser.sqlite3")
    seed(app)
    with app.app_context():
        # A second assistant team manager, so there is a colleague to assign to.
        _create_user("nel.ai.atm2", ["nel-ai-atm"], ["staff", "manager"], None, "A&I Assistant Team Manager (Jo)",
                     "nel-ai")
        for user_id in ("nel.ai.atm", "nel.ai.atm2", "nel.ai.sw1", "nel.ai.sw2"):
            db.session.get(User, user_id).password_hash = generate_password_hash(PASSWORD)
        db.session.commit()
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


def sign_in(page, base: str, user: str) -> None:
    page.context.clear_cookies()
    page.goto(base + "/sign-in")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    assert page.locator("h1").inner_text() == "Your tasks"


def watch(page) -> list[str]:
    """Collect what the browser reports: CSP violations and script errors fail the test."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 404 else None)
    return problems


# Each heading's level, and whether it titles an error summary or a notification banner.
HEADINGS = """() => [...document.querySelectorAll('h1, h2, h3, h4')].map(h =>
  [Number(h.tagName[1]), !!h.closest('.govuk-error-summary, .govuk-notification-banner')])"""


def check(page, name: str) -> None:
    """Screenshot the page; fail on serious or critical axe-core violations (WCAG 2.2's
    target size included, which axe leaves off by default), on a page without exactly one
    h1, and on a heading that skips a level."""
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)
    page.evaluate(AXE.read_text())  # through the debugging protocol: the page's CSP stays as it is
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations'], "
                           "rules: {'target-size': {enabled: true}}})")
    serious = [f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes']][:3]}" for v in result["violations"]
               if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{name}: {serious}"
    # GOV.UK puts error summaries and notification banners above the page's h1; nothing else.
    headings = page.evaluate(HEADINGS)
    levels = [level for level, _ in headings]
    assert levels.count(1) == 1, f"{name}: headings {levels}"
    first = levels.index(1)
    assert all(above for _, above in headings[:first]), f"{name}: a heading above the h1: {levels}"
    after = levels[first:]
    assert all(b - a <= 1 for a, b in zip(after, after[1:])), f"{name}: a heading skips a level: {levels}"


def error_then(page, name: str) -> None:
    """After a refused form: the error summary, focused by govuk-frontend, titled "Error:"."""
    summary = page.locator(".govuk-error-summary")
    # Waits for the answer page: a click returns once the form is sent, not once it loads.
    summary.wait_for(state="visible", timeout=10_000)
    page.wait_for_function("document.activeElement && document.activeElement.matches('.govuk-error-summary')")
    assert page.title().startswith("Error: ")
    check(page, name)


def start_referral(app, key: str) -> dict:
    response = app.test_client().post("/api/v1/process-definitions/nel_section17/start", headers={
        "Authorization": f"Bearer {app.tokens['front.door']}"}, json={"businessKey": key, "variables": {
            "childId": f"C-{key}", "referralId": key, "referralReceivedAt": "2026-12-01T08:00:00Z",
            "strategyDiscussionRecommended": False}})
    assert response.status_code == 201
    return response.json


def test_a_referral_worked_by_the_team(server, browser):
    app, base = server
    instance = start_referral(app, "REF-B1")
    start_referral(app, "REF-B2")  # a second case in the tray
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = watch(page)

    # Sign in: first with a wrong password.
    page.goto(base + "/")
    check(page, "01-sign-in")
    page.fill("#username", "nel.ai.atm")
    page.fill("#password", "not the password")
    page.click("button:has-text('Sign in')")
    error_then(page, "02-sign-in-with-error")
    sign_in(page, base, "nel.ai.atm")
    check(page, "03-inbox")
    page.select_option("#pathway", "nel_section17")
    page.check("input[name=overdue]")
    page.click("button:has-text('Filter')")
    assert "Nothing here." in page.locator("#tray-nel-ai-atm").inner_text()  # due today, not overdue
    check(page, "04-inbox-overdue-only")

    # The duty manager claims the review, gets an error, then completes it and moves on.
    page.goto(base + "/")
    page.locator("#tray-nel-ai-atm tr", has_text="REF-B1").locator("a").click()
    page.click("button:has-text('Claim this task')")
    assert "A&I Assistant Team Manager" in page.locator(".govuk-summary-list").first.inner_text()
    check(page, "05-task-claimed")
    page.fill("#reviewNotes", "Seen the IFD summary")
    page.click("button:has-text('Save and continue')")
    assert page.locator("#reviewNotes").input_value() == "Seen the IFD summary"
    error_then(page, "06-task-with-error")
    page.click("label:has-text('Accept for assessment')")
    page.click("button:has-text('Save and continue')")
    assert page.locator("h1").inner_text() == "Allocation discussion with the social worker"
    check(page, "07-next-task")
    page.select_option("#allocatedWorker", "nel.ai.sw1")
    page.fill("#visitPlan", "Joint visit with the health visitor")
    page.click("label:has-text('Yes')")
    page.click("button:has-text('Save and continue')")
    assert page.locator("h1").inner_text() == "Your tasks"  # the visit is the social worker's

    # The allocated social worker hands the visit back to the social workers' tray ...
    sign_in(page, base, "nel.ai.sw1")
    page.click("#mine a:has-text('Initial visit')")
    page.click("button:has-text('Release this task')")
    sign_in(page, base, "nel.ai.sw2")
    tray = page.locator("#tray-nel-ai-sw")
    assert "Tray: A&I social workers (1)" in tray.inner_text() and "Not claimed" in tray.inner_text()
    check(page, "08-social-worker-tray")
    # ... where a colleague claims it, gets an error, then records the visit.
    tray.locator("a:has-text('Initial visit')").click()
    page.click("button:has-text('Claim this task')")
    assert "A&I Social Worker (Priya)" in page.locator(".govuk-summary-list").first.inner_text()
    page.click("button:has-text('Save and continue')")
    error_then(page, "09-visit-with-error")
    page.fill("#visitDate-day", "1")  # the suite's clock: Tue 1 Dec 2026
    page.fill("#visitDate-month", "12")
    page.fill("#visitDate-year", "2026")
    page.click("label:has-text('Yes')")
    page.click("button:has-text('Save and continue')")
    assert page.locator("h1").inner_text() == "Your tasks"
    assert page.locator("#mine").inner_text().startswith("Assigned to you (0)")

    # The next task, the supervision, is in the managers' tray; the manager assigns it to a colleague.
    sign_in(page, base, "nel.ai.atm")
    tray = page.locator("#tray-nel-ai-atm")
    assert tray.locator("tr", has_text="REF-B1").locator("a").inner_text() == "Formal supervision after the initial visit"
    check(page, "10-manager-tray-next-task")
    tray.locator("a:has-text('Formal supervision')").click()
    page.select_option("#userId", "nel.ai.atm2")
    page.click("button:has-text('Assign')")
    assert "A&I Assistant Team Manager (Jo)" in page.locator(".govuk-summary-list").first.inner_text()
    check(page, "11-assigned-to-a-colleague")
    page.goto(base + "/team")
    check(page, "12-team")
    page.goto(base + "/start")
    check(page, "13-start")
    page.click("a:has-text('Section 17 allocation and assessment')")
    check(page, "14-start-form")
    sign_in(page, base, "nel.ai.atm2")
    mine = page.locator("#mine")
    assert "Assigned to you (1)" in mine.inner_text() and "Formal supervision" in mine.inner_text()
    check(page, "15-colleagues-tasks")

    # The case page: the diagram with the current step highlighted, and a document.
    with app.app_context():
        from datetime import datetime, timezone

        from app.services import documents
        from app.services.transaction import commit

        # A letter kept with the case, so its page is checked too (nel_section17 writes none).
        documents.produce("referral_outcome_letter", instance["id"], {
            "childId": "C-REF-B1", "route": "advice", "contactReceivedAt": "2026-12-01T08:00:00Z",
            "adviceGiven": "Universal services"}, None, "nel.ai.atm", datetime.now(timezone.utc))
        commit()
    page.click("#mine a:has-text('Formal supervision')")
    page.click("a:has-text('Case REF-B1')")
    page.wait_for_selector("#diagram-nel_section17[data-drawn=yes]", timeout=20000)
    assert page.locator("[data-element-id='formal_supervision'].pw-current").count() == 1
    assert page.locator("[data-element-id='initial_visit'].pw-done").count() == 1
    assert "Formal supervision after the initial visit" in page.locator("#current-steps").inner_text()
    check(page, "16-case")
    page.click("a:has-text('read')")
    assert "Thank you for your contact about child C-REF-B1" in page.locator("body").inner_text()
    check(page, "17-document")
    # On a phone (375 pixels wide) the trays and the team page scroll their tables, not the page.
    page.set_viewport_size({"width": 375, "height": 800})
    for path in ("/", "/team", f"/cases/{instance['id']}"):
        page.goto(base + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    # No CSP violation and no script error (a form with errors is answered 400 on purpose).
    assert [p for p in problems if "status of 400" not in p] == []
    page.close()
