"""The inbox in a real browser: Playwright driving Debian's Chromium against a live server.
A manager signs in, submits a form with an error and then correctly, moves on to the next
task, and opens the case page, where bpmn-js draws the diagram with the current step
highlighted. axe-core checks each page for serious or critical accessibility violations.
Screenshots of every page visited go to tests/output/."""
from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

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
        for user_id in ("nel.ai.atm", "nel.ai.sw1"):
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
    page.goto(base + "/sign-in")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")


def watch(page) -> list[str]:
    """Collect what the browser reports: CSP violations and script errors fail the test."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def check(page, name: str) -> None:
    """Screenshot the page, and fail on serious or critical axe-core violations."""
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)
    page.evaluate(AXE.read_text())  # through the debugging protocol: the page's CSP stays as it is
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    serious = [f"{v['id']}: {v['help']}" for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{name}: {serious}"


def test_work_a_referral_in_the_browser(server, browser):
    app, base = server
    client = app.test_client()
    response = client.post("/api/v1/process-definitions/nel_section17/start", headers={
        "Authorization": f"Bearer {app.tokens['front.door']}"}, json={"businessKey": "REF-B1", "variables": {
            "childId": "C-B1", "referralId": "REF-B1", "referralReceivedAt": "2026-12-01T08:00:00Z",
            "strategyDiscussionRecommended": False}})
    assert response.status_code == 201
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = watch(page)
    page.goto(base + "/")
    check(page, "1-sign-in")
    page.fill("#username", "nel.ai.atm")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    assert page.locator("h1").inner_text() == "Your tasks"
    check(page, "2-inbox")
    page.click("a:has-text('Review referral in awaiting allocation tray')")
    page.click("button:has-text('Claim this task')")
    assert "Claimed by" in page.locator(".govuk-summary-list").inner_text()
    assert page.locator("button:has-text('Release this task')").count() == 1
    check(page, "3-task")
    page.fill("#reviewNotes", "Seen the IFD summary")
    page.click("button:has-text('Save and continue')")
    assert page.locator(".govuk-error-summary").is_visible()
    assert page.locator("#reviewNotes").input_value() == "Seen the IFD summary"
    check(page, "4-task-with-error")
    page.click("label:has-text('Accept for assessment')")
    page.click("button:has-text('Save and continue')")
    assert page.locator("h1").inner_text() == "Allocation discussion with the social worker"
    check(page, "5-next-task")
    page.click("a:has-text('Case REF-B1')")
    page.wait_for_selector("#diagram-nel_section17[data-drawn=yes]", timeout=20000)
    assert page.locator("[data-element-id='allocation_discussion'].pw-current").count() == 1
    assert page.locator("[data-element-id='duty_atm_review'].pw-done").count() == 1
    check(page, "6-case")
    # No CSP violation and no script error (a form with errors is answered 400 on purpose).
    assert [p for p in problems if "status of 400" not in p] == []
    page.close()


def test_a_social_worker_and_a_manager_share_the_work(server, browser):
    app, base = server
    client, token = app.test_client(), app.tokens
    started = client.post("/api/v1/process-definitions/nel_section17/start", headers={
        "Authorization": f"Bearer {token['front.door']}"}, json={"businessKey": "REF-B2", "variables": {
            "childId": "C-B2", "referralId": "REF-B2", "referralReceivedAt": "2026-12-01T08:00:00Z",
            "strategyDiscussionRecommended": False}}).json
    atm = {"Authorization": f"Bearer {token['nel.ai.atm']}"}
    (review,) = started["activeTasks"]
    after = client.post(f"/api/v1/tasks/{review['id']}/complete", headers=atm,
                        json={"variables": {"reviewDecision": "accept"}}).json
    (allocation,) = after["activeTasks"]
    client.post(f"/api/v1/tasks/{allocation['id']}/complete", headers=atm, json={"variables": {
        "allocatedWorker": "nel.ai.sw1", "visitPlan": "Joint visit", "managementCaseNoteRecorded": True}})
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    # The social worker: the visit is in their own list (assigned at allocation); claim, error, then done.
    sign_in(page, base, "nel.ai.sw1")
    page.click("#mine a:has-text('Initial visit')")
    page.click("button:has-text('Save and continue')")
    assert page.locator(".govuk-error-summary").is_visible()
    check(page, "7-visit-with-error")
    page.fill("#visitDate-day", "2")
    page.fill("#visitDate-month", "12")
    page.fill("#visitDate-year", "2026")
    page.click("label:has-text('Yes')")
    page.click("button:has-text('Save and continue')")
    assert page.locator("h1").inner_text() == "Your tasks"  # nothing more for the social worker here
    check(page, "8-social-worker-done")
    # The manager: supervision is now in the ATM tray; assign it to themselves.
    page.context.clear_cookies()
    sign_in(page, base, "nel.ai.atm")
    tray = page.locator("#tray-nel-ai-atm")
    assert tray.locator("a:has-text('Formal supervision')").count() == 1
    tray.locator("a:has-text('Formal supervision')").click()
    page.select_option("#userId", "nel.ai.atm")
    page.click("button:has-text('Assign')")
    assert "A&I Assistant Team Manager" in page.locator(".govuk-summary-list").inner_text()
    check(page, "9-assigned")
    page.close()
