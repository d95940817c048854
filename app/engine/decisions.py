"""Evaluating deployed decisions, for business rule tasks and for
`POST /api/v1/decisions/{key}/evaluate`.

A decision version is identified by its key and the content hash of the DMN file it was
deployed from; without a hash the latest deployed version is used.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from .decision_tables import DecisionTable, NoAnswer, decide, from_source
from .runtime import DecisionFailed


class DecisionEvaluator:
    def __init__(self, load_source: Callable[[str, str | None], tuple[str, str] | None] | None = None,
                 facts: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                 latest_hash: Callable[[str], str | None] | None = None):
        # (key, content hash or None for the latest) -> (content hash, DMN source); the app
        # reads it from the decision definition rows.
        self.load_source = load_source
        # key -> the content hash of its newest deployed version, or None: a decision bound
        # to the latest version is looked up by it, and its source read only when that
        # version is not cached yet (a DMN file is up to tens of kilobytes).
        self.latest_hash = latest_hash
        # variables -> inputs the app can answer from elsewhere (the case register); used
        # only where the caller gave no value.
        self.facts = facts
        self._tables: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def table(self, key: str, content_hash: str | None, source_xml: str | None = None) -> DecisionTable:
        return self._decisions(key, content_hash, source_xml)[key]

    def _decisions(self, key: str, content_hash: str | None, source_xml: str | None = None) -> dict[str, Any]:
        if content_hash is None and source_xml is None and self.latest_hash is not None:
            content_hash = self.latest_hash(key)
            if content_hash is None:
                raise DecisionFailed(key, "any version of this decision is not deployed")
        if content_hash is None or source_xml is None and (key, content_hash) not in self._tables:
            found = self.load_source(key, content_hash) if self.load_source else None
            if found is None:
                wanted = f"version {content_hash[:12]}" if content_hash else "any version"
                raise DecisionFailed(key, f"{wanted} of this decision is not deployed")
            content_hash, source_xml = found
        cached = self._tables.get((key, content_hash))
        if cached is None:
            cached = from_source(source_xml.encode("utf-8"))
            with self._lock:
                self._tables[(key, content_hash)] = cached
        return cached

    def evaluate(self, key: str, content_hash: str | None, variables: dict[str, Any],
                 source_xml: str | None = None) -> dict[str, Any] | list[dict[str, Any]]:
        """The decision's result: an object, or a list of objects for COLLECT, RULE ORDER
        and OUTPUT ORDER."""
        decisions = self._decisions(key, content_hash, source_xml)
        table = decisions[key]
        if self.facts is not None:
            variables = {**self.facts(variables), **variables}
        try:
            return decide(decisions, key, variables)
        except NoAnswer as exc:
            raise DecisionFailed(key, str(exc), table.input_values(variables)) from None

    def outputs(self, key: str, content_hash: str | None, variables: dict[str, Any],
                source_xml: str | None = None) -> dict[str, Any]:
        """What a business rule task puts into the process: one variable per output; for a
        list result, each variable holds the list of that output's values."""
        result = self.evaluate(key, content_hash, variables, source_xml)
        if isinstance(result, list):
            table = self.table(key, content_hash, source_xml)
            return {o.name: [row[o.name] for row in result] for o in table.outputs}
        return result
