"""Evaluating a deployed decision on its own, for `POST /decisions/{key}/evaluate`."""
from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from .parser import PathwaysParser
from .runtime import EngineError, _describe
from .xmlsafe import parse_xml


class DecisionEvaluator:
    def __init__(self, script_engine):
        self.script_engine = script_engine
        self._tables: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _engine(self, key: str, content_hash: str, source_xml: str):
        cached = self._tables.get((key, content_hash))
        if cached is None:
            parser = PathwaysParser()
            root = parse_xml(source_xml.encode("utf-8"), 1 << 30)
            parser.add_dmn_xml(root, filename=f"{key}.dmn")
            cached = parser.get_engine(key, root)
            with self._lock:
                self._tables[(key, content_hash)] = cached
        return cached

    def evaluate(self, key: str, content_hash: str, source_xml: str, variables: dict[str, Any]) -> dict[str, Any]:
        dmn_engine = self._engine(key, content_hash, source_xml)
        # The DMN engine evaluates against a task's data through its workflow's script engine.
        task = SimpleNamespace(
            data=dict(variables),
            workflow=SimpleNamespace(script_engine=self.script_engine),
            task_spec=SimpleNamespace(bpmn_id=key, name=key),
        )
        try:
            return dmn_engine.result(task)
        except Exception as exc:
            raise EngineError(f"decision {key} could not be evaluated: {_describe(exc)}") from exc

    def hit_policy(self, key: str, content_hash: str, source_xml: str) -> str:
        return self._engine(key, content_hash, source_xml).decision_table.hit_policy
