"""Database rows. Deployed definitions (what the diagrams say) are kept apart from
running instances and their projections (what is happening)."""
from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, timezone
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db


class UTCDateTime(sa.types.TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def new_id() -> str:
    return str(uuid.uuid4())


class InstanceStatus(str, enum.Enum):
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    INCIDENT = "incident"


class TaskStatus(str, enum.Enum):
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class TimerStatus(str, enum.Enum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"


class User(db.Model):
    __tablename__ = "user_account"
    id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    groups: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    roles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # The user's own team: duty rotas give a case to a team's members of each group.
    team: Mapped[str | None] = mapped_column(sa.String(80))
    # Other register teams whose children the user may see (a service manager's teams).
    teams: Mapped[list[str]] = mapped_column(sa.JSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Sign-in throttling: failed attempts in a row, and until when the account is locked.
    failed_sign_ins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Raised by "sign out everywhere": sessions signed in before it stop working.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    # Set for one request by a token that carries a role: the caller acts in that role only.
    token_role: ClassVar[str | None] = None
    # The council identity provider's stable id for this person ("sub"), kept from their
    # first OpenID Connect sign-in so a renamed or reissued username cannot take the account.
    oidc_subject: Mapped[str | None] = mapped_column(sa.String(255), unique=True, index=True)

    def has_role(self, role: str) -> bool:
        held = role in self.roles or "admin" in self.roles
        return held and self.token_role in (None, role, "admin")

    @property
    def works_tasks(self) -> bool:
        """Tasks are worked as staff or a manager: a token limited to another role works none."""
        return self.token_role in (None, "staff", "manager", "admin")


class ApiToken(db.Model):
    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    # Only a hash is kept: a stolen database does not give working tokens.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Tokens issued before expiry existed have none and keep working until revoked.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(sa.String(80))
    # One of the user's roles: the token acts in that role only. None: all the user's roles.
    role: Mapped[str | None] = mapped_column(sa.String(40))
    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class Deployment(db.Model):
    __tablename__ = "deployment"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deployed_by: Mapped[str | None] = mapped_column(sa.String(80))
    files: Mapped[list[str]] = mapped_column(sa.JSON, default=list)


class ProcessDefinition(db.Model):
    __tablename__ = "process_definition"
    __table_args__ = (sa.UniqueConstraint("key", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(120), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(255))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    source_file: Mapped[str] = mapped_column(sa.String(255))
    # Deferred like the spec: an instance loads its definition (for its version) on every
    # read and every change, and the diagram is tens of kilobytes that only its view needs.
    source_xml: Mapped[str] = mapped_column(sa.Text, deferred=True)
    # The parsed spec, stored once per version: instance state never repeats it.
    spec: Mapped[dict[str, Any]] = mapped_column(sa.JSON, deferred=True)
    deployment_id: Mapped[int] = mapped_column(sa.ForeignKey("deployment.id"))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DecisionDefinition(db.Model):
    __tablename__ = "decision_definition"
    __table_args__ = (sa.UniqueConstraint("key", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(120), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(255))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    source_file: Mapped[str] = mapped_column(sa.String(255))
    source_xml: Mapped[str] = mapped_column(sa.Text)
    deployment_id: Mapped[int] = mapped_column(sa.ForeignKey("deployment.id"))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProcessInstance(db.Model):
    __tablename__ = "process_instance"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    definition_id: Mapped[int] = mapped_column(sa.ForeignKey("process_definition.id"), index=True)
    definition_key: Mapped[str] = mapped_column(sa.String(120), index=True)
    business_key: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    # The child the case is about (the `childId` variable): team scope is decided by it.
    child_id: Mapped[str | None] = mapped_column(sa.String(80), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    # The engine's serialized state without its spec, and the variables projected from it.
    # The state (tens of kilobytes) is deferred: only a change reads it, and loads it with
    # the lock (projection.lock_instance); a list of cases or a task's page never needs it.
    state: Mapped[dict[str, Any]] = mapped_column(sa.JSON, deferred=True)
    variables: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    # Bumped on every change: a writer holding an older value has lost the race.
    lock_version: Mapped[int] = mapped_column(default=0)
    team: Mapped[str | None] = mapped_column(sa.String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_by: Mapped[str | None] = mapped_column(sa.String(80))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incident: Mapped[str | None] = mapped_column(sa.Text)
    # Loaded with the instance (the API shows its version); the spec column stays deferred.
    definition: Mapped[ProcessDefinition] = relationship(lazy="joined", innerjoin=True)

    # SQLAlchemy adds `WHERE lock_version = ?` to every UPDATE: a stale writer fails.
    __mapper_args__ = {"version_id_col": lock_version}


class Task(db.Model):
    """A human task as the inbox sees it: a projection of the engine's READY user tasks."""

    __tablename__ = "task"
    __table_args__ = (sa.Index("ix_task_status_due", "status", "due_at"),)
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    instance_id: Mapped[str] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    definition_key: Mapped[str] = mapped_column(sa.String(120))
    business_key: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    activity_id: Mapped[str] = mapped_column(sa.String(120))
    name: Mapped[str] = mapped_column(sa.String(255))
    lane: Mapped[str | None] = mapped_column(sa.String(255))
    candidate_groups: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    team: Mapped[str | None] = mapped_column(sa.String(80))
    assignee: Mapped[str | None] = mapped_column(sa.String(80), index=True)
    status: Mapped[str] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[str | None] = mapped_column(sa.String(80))
    form: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    documentation: Mapped[str | None] = mapped_column(sa.Text)
    candidate_users: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # An assessment step's timescale in working days (its `timescale.assessment` property).
    assessment_days: Mapped[int | None] = mapped_column()
    instance: Mapped[ProcessInstance] = relationship()
    group_rows: Mapped[list["TaskCandidateGroup"]] = relationship(cascade="all, delete-orphan")


class TaskCandidateGroup(db.Model):
    """One row per (task, group) so 'my groups' trays are an indexed join."""

    __tablename__ = "task_candidate_group"
    task_id: Mapped[str] = mapped_column(sa.ForeignKey("task.id", ondelete="CASCADE"), primary_key=True)
    group: Mapped[str] = mapped_column(sa.String(80), primary_key=True, index=True)


class Timer(db.Model):
    """One firing of a BPMN timer. The database owns it; Redis only carries its delivery,
    as an RQ job whose id is this row's id."""

    __tablename__ = "timer"
    __table_args__ = (sa.Index("ix_timer_status_due", "status", "due_at"),)
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    # The engine's waiting event task; a cycle timer keeps its task and gets a row per firing.
    engine_task_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    instance_id: Mapped[str] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    activity_id: Mapped[str] = mapped_column(sa.String(120))
    name: Mapped[str | None] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(40))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(sa.String(20))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    instance: Mapped[ProcessInstance] = relationship()


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    # Register changes and reads are audited against the child.
    child_id: Mapped[str | None] = mapped_column(sa.String(80), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(sa.String(60))
    activity_id: Mapped[str | None] = mapped_column(sa.String(120))
    task_id: Mapped[str | None] = mapped_column(sa.String(36))
    user: Mapped[str | None] = mapped_column(sa.String(80))
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


@sa.event.listens_for(AuditEvent, "before_update")
@sa.event.listens_for(AuditEvent, "before_delete")
def _audit_is_append_only(mapper: Any, connection: Any, target: AuditEvent) -> None:
    # The audit is append-only on every database; on PostgreSQL a trigger refuses it too.
    raise RuntimeError(f"audit event {target.id} cannot be changed or deleted: the audit is append-only")


# -- the case register: which team holds a child, and since when ---------------------------

class EpisodeStatus(str, enum.Enum):
    ASSESSMENT = "assessment"
    SECTION47 = "section47"
    CIN_PLAN = "cin_plan"
    CP_PLAN = "cp_plan"
    CHILD_IN_CARE = "child_in_care"
    EARLY_HELP = "early_help"
    SUPPORT = "support"


class Family(db.Model):
    __tablename__ = "family"
    id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Child(db.Model):
    __tablename__ = "child"
    id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    # A child belongs to one family (household); siblings are the family's other children.
    family_id: Mapped[str | None] = mapped_column(sa.ForeignKey("family.id"), index=True)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    date_of_birth: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TeamEpisode(db.Model):
    """A team holding a child from ``started_at`` until ``ended_at`` (open while null)."""

    __tablename__ = "team_episode"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    child_id: Mapped[str] = mapped_column(sa.ForeignKey("child.id"), index=True)
    team: Mapped[str] = mapped_column(sa.String(80), index=True)
    status: Mapped[str] = mapped_column(sa.String(30))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(300))
    instance_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)


class Document(db.Model):
    """A letter or summary a pathway produced, rendered from a template, kept with the case."""

    __tablename__ = "document"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    instance_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    child_id: Mapped[str | None] = mapped_column(sa.String(80), index=True)
    kind: Mapped[str] = mapped_column(sa.String(80))
    title: Mapped[str] = mapped_column(sa.String(300))
    activity_id: Mapped[str | None] = mapped_column(sa.String(120))
    html: Mapped[str] = mapped_column(sa.Text)
    pdf: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
