"""Evaluating deployed decisions, for business rule tasks and for
`POST /api/v1/decisions/{key}/evaluate`.

A decision version is identified by its key and the content hash of the DMN file it was
deployed from; without a hash the latest deployed version is used.
"""
from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any, Callable

from .parser import PathwaysParser
from .runtime import DecisionFailed, _describe
from .xmlsafe import parse_xml


class DecisionEvaluator:
    def __init__(self, script_engine,
                 load_source: Callable[[str, str | None], tuple[str, str] | None] | None = None):
        self.script_engine = script_engine
        # (key, content hash or None for the latest) -> (content hash, DMN source); the app
        # reads it from the decision definition rows.
        self.load_source = load_source
        self._tables: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _engine(self, key: str, content_hash: str | None, source_xml: str | None = None):
        if content_hash is None or source_xml is None and (key, content_hash) not in self._tables:
            found = self.load_source(key, content_hash) if self.load_source else None
            if found is None:
                wanted = f"version {content_hash[:12]}" if content_hash else "any version"
                raise DecisionFailed(key, f"{wanted} of this decision is not deployed")
            content_hash, source_xml = found
        cached = self._tables.get((key, content_hash))
        if cached is None:
            parser = PathwaysParser()
            root = parse_xml(source_xml.encode("utf-8"), 1 << 30)
            parser.add_dmn_xml(root, filename=f"{key}.dmn")
            cached = parser.get_engine(key, root)
            with self._lock:
                self._tables[(key, content_hash)] = cached
        return cached

    def outputs(self, key: str, content_hash: str | None, variables: dict[str, Any],
                source_xml: str | None = None) -> dict[str, Any]:
        dmn_engine = self._engine(key, content_hash, source_xml)
        # The DMN engine evaluates against a task's data through its workflow's script engine.
        task = SimpleNamespace(
            data=dict(variables),
            workflow=SimpleNamespace(script_engine=self.script_engine),
            task_spec=SimpleNamespace(bpmn_id=key, name=key),
        )
        inputs = {
            i.expression: variables.get(i.expression)
            for i in dmn_engine.decision_table.inputs if i.expression in variables or i.expression.isidentifier()
        }
        try:
            result = dmn_engine.result(task)
        except Exception as exc:
            raise DecisionFailed(key, _describe(exc), inputs) from exc
        if not result:
            raise DecisionFailed(key, "no rule matched", inputs)
        return result

    def hit_policy(self, key: str, content_hash: str, source_xml: str | None = None) -> str:
        return self._engine(key, content_hash, source_xml).decision_table.hit_policy
