"""The case register: children, their family, and the team episodes that say which team
holds a child and since when. Integrators keep it up to date by API; pathways change it at
their transfer points (see `apply_actions`). Every change is audited against the child.

Each function changes the session; the caller commits (one transaction per action).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any

import sqlalchemy as sa
from flask import current_app

from ..calendar import to_london
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models import Child, EpisodeStatus, Family, TeamEpisode
from .projection import audit

TEAM_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
STATUSES = [s.value for s in EpisodeStatus]
# Months are calendar averages: "within 6 months" compares a fractional count of them.
DAYS_PER_MONTH = 365.2425 / 12


def now() -> datetime:
    """The register's "now" is the engine's clock, so "who holds the child" agrees with the
    instant the pathways ran at (the same in production; fixed in tests and simulations)."""
    return current_app.extensions["pathways.engine"].clock()


def get_family(family_id: str) -> Family:
    family = db.session.get(Family, family_id)
    if family is None:
        raise NotFound(f"no family {family_id} in the register")
    return family


def get_child(child_id: str) -> Child:
    child = db.session.get(Child, child_id)
    if child is None:
        raise NotFound(f"no child {child_id} in the register")
    return child


def create_family(family_id: str, name: str | None, user: str) -> Family:
    if db.session.get(Family, family_id) is not None:
        raise Conflict(f"family {family_id} is already in the register", {"id": ["already exists"]})
    family = Family(id=family_id, name=name, created_at=now())
    db.session.add(family)
    audit(None, "family_registered", user, familyId=family_id, name=name)
    return family


def update_family(family: Family, changes: dict[str, Any], user: str) -> Family:
    before = family.name
    if "name" in changes:
        family.name = changes["name"]
    audit(None, "family_updated", user, familyId=family.id, changes={"name": {"from": before, "to": family.name}})
    return family


def create_child(child_id: str, family_id: str | None, name: str | None, date_of_birth: date | None,
                 user: str) -> Child:
    if db.session.get(Child, child_id) is not None:
        raise Conflict(f"child {child_id} is already in the register", {"id": ["already exists"]})
    if family_id is not None and db.session.get(Family, family_id) is None:
        raise Invalid(f"no family {family_id} in the register", {"familyId": [f"no family {family_id}: add it first"]})
    child = Child(id=child_id, family_id=family_id, name=name, date_of_birth=date_of_birth, created_at=now())
    db.session.add(child)
    audit(None, "child_registered", user, child_id=child_id, familyId=family_id)
    return child


def update_child(child: Child, changes: dict[str, Any], user: str) -> Child:
    family_id = changes.get("familyId", child.family_id)
    if "familyId" in changes and family_id != child.family_id:
        if child.family_id is not None:
            # A sibling in two families would make "a sibling open to the CIN team" ambiguous.
            raise Conflict(f"child {child.id} already belongs to family {child.family_id}",
                           {"familyId": [f"already in family {child.family_id}; a child belongs to one family"]})
        if family_id is not None and db.session.get(Family, family_id) is None:
            raise Invalid(f"no family {family_id} in the register", {"familyId": [f"no family {family_id}"]})
        child.family_id = family_id
    if "name" in changes:
        child.name = changes["name"]
    if "dateOfBirth" in changes:
        child.date_of_birth = changes["dateOfBirth"]
    audit(None, "child_updated", user, child_id=child.id,
          changes={k: (v.isoformat() if isinstance(v, date) else v) for k, v in changes.items()})
    return child


def sibling_ids(child_id: str, family_id: str | None) -> list[str]:
    """The other children of the family (none without a family)."""
    if family_id is None:
        return []
    return list(db.session.execute(
        sa.select(Child.id).where(Child.family_id == family_id, Child.id != child_id).order_by(Child.id)
    ).scalars())


# Built once: every decision that reads the register sends it (see projection._locking_statements).
_EPISODES = (sa.select(TeamEpisode).where(TeamEpisode.child_id == sa.bindparam("child_id", type_=sa.String))
             .order_by(TeamEpisode.started_at, TeamEpisode.id))


def episodes(child_id: str) -> list[TeamEpisode]:
    return list(db.session.execute(_EPISODES, {"child_id": child_id}).scalars())


def _is_open(episode: TeamEpisode, at: datetime) -> bool:
    return episode.started_at <= at and (episode.ended_at is None or episode.ended_at > at)


def _open_at(at: datetime) -> sa.ColumnElement[bool]:
    """_is_open as a WHERE clause over TeamEpisode."""
    return sa.and_(TeamEpisode.started_at <= at, sa.or_(TeamEpisode.ended_at.is_(None), TeamEpisode.ended_at > at))


def holding(child_id: str, at: datetime | None = None) -> list[TeamEpisode]:
    """The episodes open at ``at`` (default now): the teams holding the child."""
    at = at or now()
    return [e for e in episodes(child_id) if _is_open(e, at)]


def teams_holding(child_ids: set[str], at: datetime) -> dict[str, list[str]]:
    """Child id → the teams holding the child at ``at``, for many children in one query."""
    if not child_ids:
        return {}
    held: dict[str, list[str]] = {}
    for child_id, team in db.session.execute(
            sa.select(TeamEpisode.child_id, TeamEpisode.team)
            .where(TeamEpisode.child_id.in_(sorted(child_ids)), _open_at(at))
            .order_by(TeamEpisode.started_at, TeamEpisode.id)).all():
        held.setdefault(child_id, []).append(team)
    return held


def _check_episode(child_id: str, team: str, status: str, started_at: datetime, ended_at: datetime | None,
                   ignore: str | None = None) -> None:
    errors: dict[str, list[str]] = {}
    if not TEAM_CODE.match(team or ""):
        errors["team"] = ["must be a team code: lower-case letters, digits, - or _"]
    if status not in STATUSES:
        errors["status"] = [f"must be one of: {', '.join(STATUSES)}"]
    if ended_at is not None and ended_at < started_at:
        errors["endedAt"] = ["must not be before startedAt"]
    if errors:
        raise Invalid("the episode is invalid", errors)
    for other in episodes(child_id):
        if other.id == ignore or other.team != team:
            continue
        other_end = other.ended_at or datetime.max.replace(tzinfo=timezone.utc)
        end = ended_at or datetime.max.replace(tzinfo=timezone.utc)
        if started_at < other_end and other.started_at < end:
            raise Conflict(
                f"child {child_id} already has an episode with team {team} from "
                f"{other.started_at.isoformat()}" + (f" to {other.ended_at.isoformat()}" if other.ended_at else
                                                     " that is still open"),
                {"startedAt": [f"overlaps episode {other.id} with the same team"]},
            )


def open_episode(child: Child, team: str, status: str, started_at: datetime, user: str | None,
                 ended_at: datetime | None = None, instance_id: str | None = None) -> TeamEpisode:
    _check_episode(child.id, team, status, started_at, ended_at)
    episode = TeamEpisode(child_id=child.id, team=team, status=status, started_at=started_at, ended_at=ended_at,
                          instance_id=instance_id)
    db.session.add(episode)
    db.session.flush()
    audit(instance_id, "episode_opened", user, child_id=child.id, episodeId=episode.id, team=team, status=status,
          startedAt=started_at.isoformat())
    return episode


def update_episode(episode: TeamEpisode, changes: dict[str, Any], user: str | None,
                   instance_id: str | None = None) -> TeamEpisode:
    status = changes.get("status", episode.status)
    ended_at = changes.get("endedAt", episode.ended_at)
    _check_episode(episode.child_id, episode.team, status, episode.started_at, ended_at, ignore=episode.id)
    if episode.ended_at is not None and "endedAt" in changes and changes["endedAt"] != episode.ended_at:
        raise Conflict(f"episode {episode.id} already ended at {episode.ended_at.isoformat()}",
                       {"endedAt": ["the episode has already ended"]})
    episode.status = status
    episode.ended_at = ended_at
    if "endReason" in changes:
        episode.end_reason = changes["endReason"]
    audit(instance_id, "episode_closed" if "endedAt" in changes else "episode_updated", user,
          child_id=episode.child_id, episodeId=episode.id, team=episode.team, status=status,
          endedAt=ended_at.isoformat() if ended_at else None, reason=episode.end_reason)
    return episode


def get_episode(episode_id: str) -> TeamEpisode:
    episode = db.session.get(TeamEpisode, episode_id)
    if episode is None:
        raise NotFound(f"no team episode {episode_id}")
    return episode


def _months(since: datetime, at: datetime) -> float:
    return round((at - since).total_seconds() / 86400 / DAYS_PER_MONTH, 2)


# The decision inputs the register answers for a child (decision_facts).
REGISTER_FACTS = ("openToTeam", "previousTeam", "monthsSinceClosed", "siblingOpenToCin", "closedToCinWithinMonths")


def decision_facts(child_id: str | None, at: datetime | None = None, family_id: str | None = None) -> dict[str, Any]:
    """What the register can answer for the decision tables: the team the child is open to,
    the team that last closed them and how many months ago, whether a sibling is open to
    the CIN team, and how many months since the child was closed to the CIN team. A child
    the register does not know yet has no history, but may have siblings in ``family_id``."""
    if not child_id:
        return {}
    at = at or now()
    known = db.session.get(Child, str(child_id))
    family = known.family_id if known is not None and known.family_id else family_id
    history = episodes(str(child_id))
    open_now = [e for e in history if _is_open(e, at)]
    closed = sorted((e for e in history if e.ended_at is not None and e.ended_at <= at), key=lambda e: e.ended_at)
    cin_closed = [e for e in closed if e.team == "cin"]
    siblings = sibling_ids(str(child_id), family)
    sibling_open_to_cin = bool(siblings) and db.session.execute(
        sa.select(sa.func.count()).select_from(TeamEpisode).where(
            TeamEpisode.child_id.in_(siblings), TeamEpisode.team == "cin", _open_at(at))
    ).scalar_one() > 0
    return {
        "openToTeam": open_now[-1].team if open_now else None,
        "previousTeam": closed[-1].team if closed else None,
        "monthsSinceClosed": _months(closed[-1].ended_at, at) if closed else None,
        "siblingOpenToCin": sibling_open_to_cin,
        "closedToCinWithinMonths": _months(cin_closed[-1].ended_at, at) if cin_closed else None,
    }


def _effective(value: Any, where: str) -> datetime:
    """`episode.at`: a date is its first moment in London (the day a transfer takes effect)."""
    try:
        return to_london(value if isinstance(value, (date, datetime)) else str(value)).astimezone(timezone.utc)
    except ValueError:
        raise Invalid(f"step {where} gives no date for its register change",
                      {"episode.at": [f"must be a date or a date and time, not {value!r}"]}) from None


def apply_actions(instance_id: str, variables: dict[str, Any], step: dict[str, Any], user: str | None,
                  at: datetime) -> None:
    """A pathway step's changes to the register (`episode.close`, `episode.open` with
    `episode.status`, from `episode.at`), for the child in the process variable `childId`. A
    child or family the register does not know yet is added: the front door may start a
    pathway first."""
    actions, where = step["register"], f"{step['activityId']} ({step.get('name') or step['activityId']})"
    # The instant the engine reached the step (the engine clock: `timers run-due --as-of`),
    # unless the step names when the change takes effect (the agreed transfer date).
    at = datetime.fromisoformat(step["at"]) if step.get("at") else at
    if actions.get("at"):
        at = _effective(actions["at"], where)
    child_id = variables.get("childId")
    if not child_id:
        audit(instance_id, "register_not_updated", user, activity_id=step["activityId"],
              reason="the process has no childId variable")
        return
    child = db.session.get(Child, str(child_id))
    if child is None:
        family_id = variables.get("familyId")
        if family_id and db.session.get(Family, str(family_id)) is None:
            create_family(str(family_id), None, user or "pathways")
            db.session.flush()
        child = create_child(str(child_id), str(family_id) if family_id else None, None, None, user or "pathways")
        db.session.flush()
    # One read of the child's episodes: closing one below changes the same rows in memory.
    history = episodes(child.id)
    close = actions.get("close")
    if close:
        for episode in history:
            if close not in ("*", episode.team) or episode.team == actions.get("open"):
                continue
            if episode.started_at > at and (episode.ended_at is None or episode.ended_at > at):
                # A transfer dated before the team took the child: a mistyped date, not a history.
                raise Invalid(f"step {where} ends team {episode.team}'s episode on {at.isoformat()}, before it "
                              f"started on {episode.started_at.isoformat()}",
                              {"episode.at": [f"must not be before {episode.started_at.isoformat()}, when team "
                                              f"{episode.team} started holding the child"]})
        for episode in [e for e in history if _is_open(e, at)]:
            if close in ("*", episode.team) and episode.team != actions.get("open"):
                update_episode(episode, {"endedAt": at, "endReason": f"pathway step {where}"}, user, instance_id)
    team = actions.get("open")
    if team:
        status = actions.get("status") or EpisodeStatus.SUPPORT.value
        current = [e for e in history if _is_open(e, at) and e.team == team]
        if current:
            if current[0].status != status:
                update_episode(current[0], {"status": status}, user, instance_id)
        else:
            open_episode(child, str(team), str(status), at, user, instance_id=instance_id)
