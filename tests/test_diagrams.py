"""The diagrams in bpmn/ as a process owner sees them in Camunda Modeler or bpmn-js: no two
shapes on top of each other and no sequence flow drawn through a shape it does not join.
(bpmn_lint checks that every element is drawn at all.)"""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

BPMN_DIR = Path(__file__).resolve().parent.parent / "bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI"}
# Shapes that contain others, or sit on another's border by design.
CONTAINERS = {"participant", "lane", "subProcess", "boundaryEvent"}
MARGIN = 2  # a line along a shape's border does not go through it


def _shapes(root):
    kinds = {e.get("id"): etree.QName(e).localname for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    shapes = {}
    for shape in root.iterfind(".//bpmndi:BPMNShape", NS):
        element = shape.get("bpmnElement")
        if kinds.get(element) in CONTAINERS:
            continue
        bounds = shape.find("dc:Bounds", NS)
        shapes[element] = tuple(float(bounds.get(a)) for a in ("x", "y", "width", "height"))
    return shapes


def _crosses(segment, box) -> bool:
    (x1, y1), (x2, y2) = segment
    x, y, w, h = box
    if x1 == x2:
        return x + MARGIN < x1 < x + w - MARGIN and min(y1, y2) < y + h - MARGIN and max(y1, y2) > y + MARGIN
    if y1 == y2:
        return y + MARGIN < y1 < y + h - MARGIN and min(x1, x2) < x + w - MARGIN and max(x1, x2) > x + MARGIN
    return False


@pytest.mark.parametrize("path", sorted(BPMN_DIR.glob("*.bpmn")), ids=lambda p: p.name)
def test_nothing_is_drawn_over_anything_else(path):
    root = etree.parse(str(path)).getroot()
    shapes = _shapes(root)
    items = sorted(shapes.items())
    overlaps = [(a, b) for i, (a, (ax, ay, aw, ah)) in enumerate(items) for b, (bx, by, bw, bh) in items[i + 1:]
                if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah]
    assert overlaps == []
    flows = {f.get("id"): (f.get("sourceRef"), f.get("targetRef")) for f in root.iter(f"{{{NS['bpmn']}}}sequenceFlow")}
    through = []
    for edge in root.iterfind(".//bpmndi:BPMNEdge", NS):
        joined = flows.get(edge.get("bpmnElement"), ())
        points = [(float(w.get("x")), float(w.get("y"))) for w in edge.iterfind("di:waypoint", NS)]
        for segment in zip(points, points[1:]):
            through += [(edge.get("bpmnElement"), name) for name, box in shapes.items()
                        if name not in joined and _crosses(segment, box)]
        assert all(a[0] == b[0] or a[1] == b[1] for a, b in zip(points, points[1:])), \
            f"{edge.get('bpmnElement')} has a diagonal segment"
    assert sorted(set(through)) == []
