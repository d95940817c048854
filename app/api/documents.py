"""Letters and summaries the pathways produced, listed per case and downloadable."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Response, g, jsonify

from .. import access
from ..auth import authenticated
from ..extensions import db
from ..models import Document
from ..services import register
from ..services.transaction import commit
from . import bp, schema_for, schemas
from .openapi import doc


def _listed(where) -> list:
    return list(db.session.execute(
        sa.select(Document).where(where).order_by(Document.created_at, Document.id)
    ).scalars())


def _get(document_id: str, what: str) -> Document:
    """The document, if the caller may see it; the read is recorded against its case and child."""
    document = access.document_for(g.user, document_id)
    access.record_read(g.user, what, instance_id=document.instance_id, child_id=document.child_id)
    commit()
    return document


@bp.get("/process-instances/<instance_id>/documents")
@authenticated
@doc("The documents an instance produced", response=(200, [schemas.DocumentOut]), errors=(404,))
def instance_documents(instance_id: str):
    access.instance_for(g.user, instance_id)
    return jsonify(schema_for(schemas.DocumentOut, many=True).dump(_listed(Document.instance_id == instance_id)))


@bp.get("/children/<child_id>/documents")
@authenticated
@doc("Every document about a child", response=(200, [schemas.DocumentOut]), errors=(404,))
def child_documents(child_id: str):
    access.child_for(g.user, child_id)
    register.get_child(child_id)
    return jsonify(schema_for(schemas.DocumentOut, many=True).dump(_listed(Document.child_id == child_id)))


@bp.get("/documents/<document_id>")
@authenticated
@doc("One document's details", response=(200, schemas.DocumentOut), errors=(404,))
def get_document(document_id: str):
    return jsonify(schema_for(schemas.DocumentOut).dump(_get(document_id, "document")))


@bp.get("/documents/<document_id>/html")
@authenticated
@doc("A document as HTML", response=(200, {"type": "string"}), errors=(404,), media_type="text/html")
def document_html(document_id: str):
    return Response(_get(document_id, "document html").html, mimetype="text/html")


@bp.get("/documents/<document_id>/pdf")
@authenticated
@doc("A document as PDF", response=(200, {"type": "string", "format": "binary"}), errors=(404,),
     media_type="application/pdf")
def document_pdf(document_id: str):
    document = _get(document_id, "document pdf")
    return Response(document.pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{document.kind}-{document.id[:8]}.pdf"'})
