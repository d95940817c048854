"""Letters and summaries a pathway produces at a step (the step's `document` property):
rendered from a template in app/templates/documents to HTML, and from the HTML to PDF,
then kept with the case (instance and child) for the API to list and download."""
from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from flask import current_app
from xhtml2pdf import pisa

from ..calendar import to_london
from ..errors import BadRequest, Invalid
from ..extensions import db
from ..models import Document
from .projection import audit

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "documents"
TITLES = {
    "referral_outcome_letter": "Referral outcome",
    "transfer_letter": "Change of worker",
    "transfer_summary": "Transfer summary",
}
TEAM_NAMES = {
    "ast": "Assessment and Support Team", "ssf": "Strengthening and Supporting Families",
    "soc": "Supporting Our Children", "sccn": "Supporting Children with Complex Needs",
    "tis": "Targeted Intervention Services", "awaken": "Awaken",
    "cin": "Child in Need Team", "cic": "Child in Care Team", "dat": "Duty and Assessment Team",
    "early-help": "Early Help service", "sgcp": "Safeguarding and Court Proceedings Team",
}


def _day(value: Any) -> str:
    if not value:
        return ""
    return to_london(value).strftime("%-d %B %Y")


# A letter missing what it must say is refused, not sent with a blank: optional parts use v.get().
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                          undefined=jinja2.StrictUndefined)
_ENV.filters["day"] = _day


def kinds() -> list[str]:
    return sorted(p.stem for p in TEMPLATES.glob("*.html") if not p.stem.startswith("_"))


def render(kind: str, variables: dict[str, Any], issued: datetime, reference: str) -> tuple[str, str]:
    if kind not in kinds():
        raise BadRequest(f"no document template {kind!r}; there are: {', '.join(kinds())}")
    title = TITLES.get(kind, kind.replace("_", " ").capitalize())
    try:
        html = _ENV.get_template(f"{kind}.html").render(
            title=title, v=variables, issued=_day(issued), reference=reference, team_names=TEAM_NAMES)
    except jinja2.UndefinedError as exc:
        raise Invalid(f"the {title.lower()} document cannot be written: {exc.message}",
                      {"document": [f"{kind}: {exc.message}"]}) from None
    return title, html


def to_pdf(html: str) -> bytes:
    out = io.BytesIO()
    result = pisa.CreatePDF(html, dest=out, encoding="utf-8")
    if result.err:
        raise Invalid("the document could not be turned into a PDF", {"document": [f"{result.err} error(s)"]})
    return out.getvalue()


def produce(kind: str, instance_id: str, variables: dict[str, Any], activity_id: str | None, user: str | None,
            at: datetime) -> Document:
    """Render, store and audit one document for the instance's child."""
    child_id = variables.get("childId")
    reference = f"Child {child_id}" if child_id else f"Case {instance_id[:8]}"
    title, html = render(kind, variables, at, reference)
    document = Document(instance_id=instance_id, child_id=str(child_id) if child_id else None, kind=kind,
                        title=title, activity_id=activity_id, html=html, pdf=to_pdf(html), created_at=at,
                        created_by=user)
    db.session.add(document)
    db.session.flush()
    audit(instance_id, "document_produced", user, activity_id=activity_id, at=at,
          child_id=document.child_id, documentId=document.id, kind=kind, title=title)
    current_app.logger.info("document %s (%s) produced for instance %s", document.id, kind, instance_id)
    return document
