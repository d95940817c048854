"""Who may see which child and which case: the team scope of DESIGN.md, in one place.

Roles say what a user may do; scope says what they may see. Admins look after the whole
system and integrators are the front door's case systems that start and feed every case,
so neither is scoped. Anyone else sees a case (a process instance) when

- one of their teams holds or held the child in the case register, or
- a task of the case was for a group their team works (their own groups and their
  team-mates'; for their duty team, when a rota gives the case to a team), was assigned to
  them, or was done by them, or
- they started it;

and a child when one of their teams holds or held the child, or they may see one of the
child's cases. Anything outside that answers 404, word for word as if it did not exist,
and the attempt is recorded.
"""
from __future__ import annotations

import sqlalchemy as sa

from .auth import record_refusal
from .errors import NotFound
from .extensions import db
from .models import Child, Document, ProcessInstance, Task, TaskCandidateGroup, TeamEpisode, User
from .services.projection import audit

UNSCOPED_ROLES = ("admin", "integrator")


def unscoped(user: User) -> bool:
    # has_role: a token limited to another role is scoped like that role.
    return any(user.has_role(role) for role in UNSCOPED_ROLES)


def teams_of(user: User) -> set[str]:
    """The register teams whose children the user may see: their own team and any others
    they are set up to oversee (`users create --teams`)."""
    return {t for t in [user.team, *(user.teams or [])] if t}


def team_groups(user: User) -> set[str]:
    """The candidate groups the user's teams work: their own groups and their team-mates'.
    A task for one of these groups puts its case in front of the whole team (the social
    worker's visit is the assistant team manager's business too)."""
    teams = teams_of(user)
    groups = set(user.groups or [])
    if teams:
        for member_groups in db.session.execute(sa.select(User.groups).where(User.team.in_(sorted(teams)))).scalars():
            groups.update(member_groups or [])
    return groups


def team_task_condition(user: User, groups: set[str] | None = None) -> sa.ColumnElement[bool]:
    """Tasks for a group the user's team works (``groups``, default team_groups(user)), as a
    WHERE clause over Task."""
    in_group = Task.id.in_(sa.select(TaskCandidateGroup.task_id).where(
        TaskCandidateGroup.group.in_(sorted(team_groups(user) if groups is None else groups))))
    if user.team is not None:
        # A duty team's case goes to that team's members of each group, and to nobody else's.
        in_group = sa.and_(in_group, sa.or_(Task.team.is_(None), Task.team == user.team))
    return in_group


def _involved_instances(user: User) -> sa.Select:
    return sa.select(Task.instance_id).where(
        sa.or_(team_task_condition(user), Task.assignee == user.id, Task.completed_by == user.id))


def _held_children(user: User) -> sa.Select:
    return sa.select(TeamEpisode.child_id).where(TeamEpisode.team.in_(sorted(teams_of(user))))


def instance_condition(user: User) -> sa.ColumnElement[bool]:
    """The instances ``user`` may see, as a WHERE clause over ProcessInstance."""
    if unscoped(user):
        return sa.true()
    return sa.or_(
        ProcessInstance.started_by == user.id,
        ProcessInstance.id.in_(_involved_instances(user)),
        ProcessInstance.child_id.in_(_held_children(user)),
    )


def child_condition(user: User, child_column: sa.ColumnElement) -> sa.ColumnElement[bool]:
    """The children ``user`` may see, as a WHERE clause over a column holding a child id."""
    if unscoped(user):
        return sa.true()
    return sa.or_(
        child_column.in_(_held_children(user)),
        child_column.in_(sa.select(ProcessInstance.child_id).where(
            ProcessInstance.child_id.is_not(None), instance_condition(user))),
    )


def may_see_instance(user: User, instance_id: str) -> bool:
    return db.session.execute(sa.select(ProcessInstance.id).where(
        ProcessInstance.id == instance_id, instance_condition(user))).first() is not None


def may_see_child(user: User, child_id: str) -> bool:
    if unscoped(user):
        return True
    probe = sa.literal(str(child_id), sa.String)
    return db.session.execute(sa.select(child_condition(user, probe))).scalar() is True


def hidden(user: User, what: str, not_found: str, *, instance_id: str | None = None,
           child_id: str | None = None, task_id: str | None = None) -> NotFound:
    """Record an attempt to reach something outside the user's scope, and return the 404
    the caller would get if it did not exist (``not_found``: that answer's exact words)."""
    record_refusal(user, {"action": f"see {what}", "answer": "not_found"}, instance_id=instance_id,
                   task_id=task_id, child_id=child_id)
    return NotFound(not_found)


def instance_for(user: User, instance_id: str) -> ProcessInstance:
    """The instance, if it exists and ``user`` may see it; else 404."""
    missing = f"process instance {instance_id} not found"
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound(missing)
    if not may_see_instance(user, instance.id):
        raise hidden(user, "a case outside the user's teams", missing, instance_id=instance.id)
    return instance


def child_for(user: User, child_id: str) -> None:
    """Raise 404 unless ``user`` may see the child (whether or not the register knows them:
    the answer for a child nobody may see is the same as for one nobody has heard of)."""
    if not may_see_child(user, child_id):
        raise hidden(user, "a child outside the user's teams", f"no child {child_id} in the register",
                     child_id=str(child_id)[:80])


def document_for(user: User, document_id: str) -> Document:
    missing = f"no document {document_id}"
    document = db.session.get(Document, document_id)
    if document is None:
        raise NotFound(missing)
    visible = unscoped(user) or (document.instance_id is not None and may_see_instance(user, document.instance_id)) \
        or (document.child_id is not None and may_see_child(user, document.child_id))
    if not visible:
        raise hidden(user, "a document outside the user's teams", missing, instance_id=document.instance_id,
                     child_id=document.child_id)
    return document


def family_for(user: User, family_id: str) -> None:
    """A family is visible when one of its children is."""
    if unscoped(user):
        return
    visible = db.session.execute(sa.select(Child.id).where(
        Child.family_id == family_id, child_condition(user, Child.id)).limit(1)).first()
    if visible is None:
        raise hidden(user, "a family outside the user's teams", f"no family {family_id} in the register")


def record_read(user: User, what: str, *, instance_id: str | None = None, child_id: str | None = None) -> None:
    """Note who read what of a child's case; the request commits it with its answer."""
    audit(instance_id, "case_viewed", user.id, child_id=child_id, what=what)
