"""Document templates: what a letter must say is checked, not left blank."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.errors import BadRequest, Invalid
from app.services import documents

ISSUED = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
ALLOCATED = {"childId": "BP-1", "route": "ast", "contactReceivedAt": "2026-12-01T08:00:00Z", "receivingTeam": "ast",
             "allocatedWorker": "Sam Jones", "allocatedWorkerContact": "01253 000000"}


def test_a_letter_names_the_team_and_the_worker():
    title, html = documents.render("referral_outcome_letter", ALLOCATED, ISSUED, "Child BP-1")
    assert title == "Referral outcome"
    assert "Assessment and Support Team" in html and "Sam Jones" in html and "1 December 2026" in html
    assert documents.to_pdf(html).startswith(b"%PDF")


def test_what_is_written_is_escaped():
    _, html = documents.render("referral_outcome_letter", {**ALLOCATED, "allocatedWorker": "<script>x</script>"},
                               ISSUED, "Child BP-1")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_letter_missing_what_it_must_say_is_refused():
    with pytest.raises(Invalid, match="allocatedWorkerContact"):
        documents.render("referral_outcome_letter", {k: v for k, v in ALLOCATED.items()
                                                     if k != "allocatedWorkerContact"}, ISSUED, "Child BP-1")


def test_an_unknown_template_is_refused():
    with pytest.raises(BadRequest, match="no document template 'lettre'"):
        documents.render("lettre", ALLOCATED, ISSUED, "Child BP-1")
