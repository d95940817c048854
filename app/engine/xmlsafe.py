"""Parse uploaded XML without trusting it.

Diagrams arrive from process owners' machines and integrators' scripts. A DOCTYPE is
never needed by BPMN or DMN, and it is how entity attacks (external entities reading
files, the billion-laughs memory bomb) get in, so any document that declares one is
refused before the XML parser sees it.
"""
from __future__ import annotations

import re

from lxml import etree

_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


class XmlRejected(ValueError):
    """The bytes are not a document we will parse; the message says why, for a person."""


def parse_xml(data: bytes, max_bytes: int) -> etree._Element:
    """Return the root element of ``data``.

    Raises XmlRejected when the file is too large, declares a DOCTYPE or entities, or is
    not well-formed XML.
    """
    if len(data) > max_bytes:
        raise XmlRejected(f"file is larger than the limit of {max_bytes:,} bytes")
    if not data.strip():
        raise XmlRejected("file is empty")
    if _DOCTYPE.search(data):
        raise XmlRejected(
            "DOCTYPE and ENTITY declarations are not allowed in BPMN or DMN files"
        )
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=False,
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise XmlRejected(f"not well-formed XML: {exc}") from None
    if root is None:
        raise XmlRejected("not an XML document")
    return root
