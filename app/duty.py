"""Duty rotas: which team takes a pathway's new cases on a given day.

NEL's A&I teams each take a full week of duty in turn (then three weeks to finish their
checks, assessments and plans); a referral belongs to the team on duty the day it arrives.
Rotas are configured per process key in PATHWAYS_DUTY_ROTAS, as JSON:

    {"nel_section17": {"teams": ["nel-ai-1", "nel-ai-2", "nel-ai-3", "nel-ai-4"],
                       "firstWeek": "2026-01-05", "dateVariable": "referralReceivedAt"}}

`firstWeek` is a Monday on which the first team starts a week of duty. An optional
`groups` list names the groups the rota covers (for NEL, the A&I groups): tasks of other
groups in the same case — the police DDM, the CP & Planning IRO, the Court & CP team — go to
every member of those groups, whatever their team. Without `groups`, every task of the case
is held by the duty team.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from .calendar import to_london


@dataclass(frozen=True)
class DutyRota:
    teams: tuple[str, ...]
    first_week: date
    date_variable: str
    groups: frozenset[str] | None = None

    def covers(self, candidate_groups: list[str]) -> bool:
        return self.groups is None or bool(self.groups & set(candidate_groups))

    def team_on(self, day: date) -> str:
        weeks = (day - self.first_week).days // 7
        return self.teams[weeks % len(self.teams)]

    def team_for(self, variables: dict[str, Any]) -> str | None:
        value = variables.get(self.date_variable)
        return self.team_on(to_london(value).date()) if value else None


def parse_rotas(text: str | None) -> dict[str, DutyRota]:
    """Read PATHWAYS_DUTY_ROTAS; raise ValueError saying what is wrong."""
    if not text or not text.strip():
        return {}
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"PATHWAYS_DUTY_ROTAS is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ValueError("PATHWAYS_DUTY_ROTAS must be an object keyed by process key")
    rotas = {}
    for key, entry in raw.items():
        where = f"PATHWAYS_DUTY_ROTAS[{key!r}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object")
        teams = entry.get("teams")
        if not isinstance(teams, list) or not teams or not all(isinstance(t, str) and t for t in teams):
            raise ValueError(f"{where}.teams must be a non-empty list of team codes")
        try:
            first_week = date.fromisoformat(str(entry.get("firstWeek")))
        except ValueError:
            raise ValueError(f"{where}.firstWeek must be a date as YYYY-MM-DD") from None
        if first_week.weekday() != 0:
            raise ValueError(f"{where}.firstWeek must be a Monday")
        date_variable = entry.get("dateVariable")
        if not isinstance(date_variable, str) or not date_variable:
            raise ValueError(f"{where}.dateVariable must name the start variable with the arrival date")
        groups = entry.get("groups")
        if groups is not None and (not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups)):
            raise ValueError(f"{where}.groups must be a list of group codes")
        rotas[key] = DutyRota(tuple(teams), first_week, date_variable,
                              frozenset(groups) if groups is not None else None)
    return rotas
