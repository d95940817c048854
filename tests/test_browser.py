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
        db.session.get(User, "nel.ai.atm").password_hash = generate_password_hash(PASSWORD)
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


def check(page, name: str) -> None:
    """Screenshot the page, and fail on serious or critical axe-core violations."""
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)
    page.add_script_tag(path=str(AXE))
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
    page.goto(base + "/")
    check(page, "1-sign-in")
    page.fill("#username", "nel.ai.atm")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    assert page.locator("h1").inner_text() == "Your tasks"
    check(page, "2-inbox")
    page.click("a:has-text('Review referral in awaiting allocation tray')")
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
    page.wait_for_selector("#diagram[data-drawn=yes]", timeout=20000)
    assert page.locator("[data-element-id='allocation_discussion'].pw-current").count() == 1
    assert page.locator("[data-element-id='duty_atm_review'].pw-done").count() == 1
    check(page, "6-case")
    page.close()
