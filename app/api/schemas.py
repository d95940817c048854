"""Request and response shapes of API v1 (camelCase), which also generate the OpenAPI."""
from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate


class Base(Schema):
    class Meta:
        unknown = EXCLUDE
        ordered = True


class Request(Schema):
    """What a client sends: an unknown field or query parameter is an error, so a typo
    (`businesskey`) is refused rather than dropped, leaving a case without its reference
    or a filter unapplied."""

    class Meta:
        unknown = RAISE
        ordered = True


class ErrorBody(Base):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class Error(Base):
    error = fields.Nested(ErrorBody, required=True)


class Health(Base):
    status = fields.String(required=True)
    database = fields.String(required=True)
    redis = fields.String(required=True)


class ProcessDefinition(Base):
    id = fields.Integer()
    key = fields.String(required=True)
    name = fields.String(required=True)
    version = fields.Integer(required=True)
    deployedAt = fields.DateTime(attribute="deployed_at", required=True)


class DecisionDefinition(Base):
    id = fields.Integer()
    key = fields.String(required=True)
    name = fields.String(required=True)
    version = fields.Integer(required=True)
    deployedAt = fields.DateTime(attribute="deployed_at", required=True)


class DeployedItem(Base):
    kind = fields.String(required=True, metadata={"description": "process or decision"})
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    file = fields.String(required=True)


class DeploymentResult(Base):
    id = fields.Integer(allow_none=True)
    deployedAt = fields.DateTime(allow_none=True)
    deployed = fields.List(fields.Nested(DeployedItem), required=True,
                           metadata={"description": "new versions created by this deployment"})
    unchanged = fields.List(fields.Nested(DeployedItem), required=True)
    warnings = fields.List(fields.String(), required=True, metadata={
        "description": "deployed, but worth a look: a group no user is in, whose tasks would wait in nobody's tray"})


class StartRequest(Request):
    businessKey = fields.String(allow_none=True, validate=validate.Length(max=200))
    variables = fields.Dict(keys=fields.String(), load_default=dict)


class TimerOut(Base):
    id = fields.String(required=True)
    activityId = fields.String(attribute="activity_id", required=True)
    name = fields.String(allow_none=True)
    kind = fields.String(required=True)
    dueAt = fields.DateTime(attribute="due_at", required=True)
    status = fields.String(required=True)


class FormFieldOption(Base):
    id = fields.String(required=True)
    name = fields.String(required=True)


class FormField(Base):
    id = fields.String(required=True)
    label = fields.String(required=True)
    type = fields.String(required=True)
    required = fields.Boolean(required=True)
    options = fields.List(fields.Nested(FormFieldOption), required=True)
    constraints = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True), dump_default=dict,
                              metadata={"description": "min, max, minlength, maxlength, mustBe"})
    notBefore = fields.String(metadata={"description": "a date field: the earliest date accepted (YYYY-MM-DD)"})
    notAfter = fields.String(metadata={"description": "a date field: the latest date accepted (YYYY-MM-DD)"})
    notAfterToday = fields.Function(
        lambda f: f.get("properties", {}).get("notAfterToday") == "true",
        metadata={"description": "a date field for when something happened: a later date than the day it is "
                                 "recorded is refused"})


class TaskOut(Base):
    id = fields.String(required=True)
    name = fields.String(required=True)
    activityId = fields.String(attribute="activity_id", required=True)
    processInstanceId = fields.String(attribute="instance_id", required=True)
    definitionKey = fields.String(attribute="definition_key", required=True)
    businessKey = fields.String(attribute="business_key", allow_none=True)
    candidateGroups = fields.List(fields.String(), attribute="candidate_groups", required=True)
    assignee = fields.String(allow_none=True)
    createdAt = fields.DateTime(attribute="created_at", required=True)
    due = fields.DateTime(attribute="due_at", allow_none=True)
    status = fields.String(required=True)
    completedAt = fields.DateTime(attribute="completed_at", allow_none=True)
    completedBy = fields.String(attribute="completed_by", allow_none=True)
    documentation = fields.String(allow_none=True)
    formFields = fields.List(fields.Nested(FormField), attribute="form", required=True)


class InstanceOut(Base):
    id = fields.String(required=True)
    definitionKey = fields.String(attribute="definition_key", required=True)
    version = fields.Function(lambda i: i.definition.version, required=True)
    businessKey = fields.String(attribute="business_key", allow_none=True)
    status = fields.String(required=True)
    variables = fields.Dict(required=True)
    activeTasks = fields.List(fields.Nested(TaskOut), attribute="active_tasks", required=True)
    timers = fields.List(fields.Nested(TimerOut), attribute="timer_list", required=True)
    incident = fields.String(allow_none=True)
    startedAt = fields.DateTime(attribute="started_at", required=True)
    startedBy = fields.String(attribute="started_by", allow_none=True)
    endedAt = fields.DateTime(attribute="ended_at", allow_none=True)


class InstanceSummary(Base):
    id = fields.String(required=True)
    definitionKey = fields.String(attribute="definition_key", required=True)
    version = fields.Function(lambda i: i.definition.version, required=True)
    businessKey = fields.String(attribute="business_key", allow_none=True)
    status = fields.String(required=True)
    startedAt = fields.DateTime(attribute="started_at", required=True)
    endedAt = fields.DateTime(attribute="ended_at", allow_none=True)


class HistoryEvent(Base):
    at = fields.DateTime(required=True)
    type = fields.String(required=True)
    activityId = fields.String(attribute="activity_id", allow_none=True)
    taskId = fields.String(attribute="task_id", allow_none=True)
    user = fields.String(allow_none=True)
    details = fields.Dict(required=True)


class CancelRequest(Request):
    reason = fields.String(allow_none=True, validate=validate.Length(max=2000))


class VariablesRequest(Request):
    variables = fields.Dict(keys=fields.String(), load_default=dict)


class AssignRequest(Request):
    userId = fields.String(required=True, validate=validate.Length(min=1, max=80))


class MessageRequest(Request):
    messageName = fields.String(required=True, validate=validate.Length(min=1, max=255))
    businessKey = fields.String(allow_none=True)
    processInstanceId = fields.String(allow_none=True)
    variables = fields.Dict(keys=fields.String(), load_default=dict)


class MessageResult(Base):
    correlated = fields.Integer(required=True)
    processInstanceIds = fields.List(fields.String(), required=True)


# Camunda's paging parameters. A page that is not the last answers with a Link header naming
# the next (rel="next"), so a client never takes the first 1000 for all there is.
MAX_RESULTS = 1000


class Paged(Request):
    firstResult = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2 ** 31 - 1), metadata={
        "description": "how many to skip (paging)"})
    maxResults = fields.Integer(load_default=MAX_RESULTS, validate=validate.Range(min=1, max=MAX_RESULTS), metadata={
        "description": f"at most this many (1-{MAX_RESULTS}); when there are more, a Link header rel=\"next\" "
                       f"names the next page"})


class TaskQuery(Paged):
    candidateGroup = fields.String()
    assignee = fields.String()
    businessKey = fields.String()
    processInstanceId = fields.String()
    overdue = fields.Boolean()
    status = fields.String(validate=validate.OneOf(["active", "completed", "cancelled"]), load_default="active")


class InstanceQuery(Paged):
    businessKey = fields.String()
    definitionKey = fields.String()
    status = fields.String(validate=validate.OneOf(["active", "completed", "cancelled", "incident"]))


# -- case register -------------------------------------------------------------------------

class StrictIn(Request):
    """Register input: an unknown field is an error, so a typo is never silently dropped."""


_REGISTER_ID = fields.String(required=True, validate=validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,79}$", error="must be 1-80 letters, digits or . _ : / -"))


class FamilyIn(StrictIn):
    id = _REGISTER_ID
    name = fields.String(allow_none=True, validate=validate.Length(max=200))


class FamilyChange(StrictIn):
    name = fields.String(required=True, allow_none=True, validate=validate.Length(min=1, max=200),
                         metadata={"description": "the household's name; null clears it"})


class ChildIn(StrictIn):
    id = _REGISTER_ID
    familyId = fields.String(allow_none=True)
    name = fields.String(allow_none=True, validate=validate.Length(max=200))
    dateOfBirth = fields.Date(allow_none=True)


class ChildChange(StrictIn):
    familyId = fields.String(allow_none=True)
    name = fields.String(allow_none=True, validate=validate.Length(max=200))
    dateOfBirth = fields.Date(allow_none=True)


class EpisodeIn(StrictIn):
    team = fields.String(required=True, metadata={"description": "team code, e.g. ast, cin, nel-ai-1"})
    status = fields.String(required=True, metadata={"description": "assessment, section47, cin_plan, cp_plan, "
                                                                   "child_in_care, early_help or support"})
    startedAt = fields.AwareDateTime(required=True, default_timezone=None)
    endedAt = fields.AwareDateTime(allow_none=True)


class EpisodeChange(StrictIn):
    status = fields.String()
    endedAt = fields.AwareDateTime()
    endReason = fields.String(validate=validate.Length(max=300))


class EpisodeOut(Base):
    id = fields.String(required=True)
    childId = fields.String(attribute="child_id", required=True)
    team = fields.String(required=True)
    status = fields.String(required=True)
    startedAt = fields.DateTime(attribute="started_at", required=True)
    endedAt = fields.DateTime(attribute="ended_at", allow_none=True)
    endReason = fields.String(attribute="end_reason", allow_none=True)
    processInstanceId = fields.String(attribute="instance_id", allow_none=True)


class HeldBy(Base):
    team = fields.String(required=True)
    status = fields.String(required=True)
    since = fields.DateTime(required=True)


class ChildOut(Base):
    id = fields.String(required=True)
    familyId = fields.String(attribute="family_id", allow_none=True)
    name = fields.String(allow_none=True)
    dateOfBirth = fields.Date(attribute="date_of_birth", allow_none=True)
    siblings = fields.List(fields.String(), required=True)
    heldBy = fields.List(fields.Nested(HeldBy), required=True,
                         metadata={"description": "the teams holding the child now (open episodes)"})
    episodes = fields.List(fields.Nested(EpisodeOut), required=True)


class FamilyOut(Base):
    id = fields.String(required=True)
    name = fields.String(allow_none=True)
    children = fields.List(fields.String(), required=True)


class DocumentOut(Base):
    id = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "the template, e.g. referral_outcome_letter"})
    title = fields.String(required=True)
    childId = fields.String(attribute="child_id", allow_none=True)
    processInstanceId = fields.String(attribute="instance_id", allow_none=True)
    activityId = fields.String(attribute="activity_id", allow_none=True)
    createdAt = fields.DateTime(attribute="created_at", required=True)
    html = fields.Method("_html", metadata={"description": "where to read it as HTML"})
    pdf = fields.Method("_pdf", metadata={"description": "where to download it as PDF"})

    def _html(self, document) -> str:
        return f"/api/v1/documents/{document.id}/html"

    def _pdf(self, document) -> str:
        return f"/api/v1/documents/{document.id}/pdf"


class TokenOut(Base):
    id = fields.Integer(required=True)
    userId = fields.String(attribute="user_id", required=True)
    role = fields.String(allow_none=True, metadata={"description": "the one role the token acts in; null: all "
                                                                   "of the user's roles"})
    status = fields.String(required=True, metadata={"description": "active, expired or revoked"})
    createdAt = fields.DateTime(attribute="created_at", required=True)
    expiresAt = fields.DateTime(attribute="expires_at", allow_none=True,
                                metadata={"description": "null only for tokens issued before expiry existed"})
    revokedAt = fields.DateTime(attribute="revoked_at", allow_none=True)
    revokedBy = fields.String(attribute="revoked_by", allow_none=True)


# -- subject access export -----------------------------------------------------------------

class ExportChild(Base):
    id = fields.String(required=True)
    familyId = fields.String(attribute="family_id", allow_none=True)
    name = fields.String(allow_none=True)
    dateOfBirth = fields.Date(attribute="date_of_birth", allow_none=True)
    createdAt = fields.DateTime(attribute="created_at", required=True)


class ExportFamily(Base):
    id = fields.String(required=True)
    name = fields.String(allow_none=True)
    siblings = fields.List(fields.String(), required=True, metadata={"description": "the family's other children"})


class ExportTask(TaskOut):
    submitted = fields.Dict(allow_none=True, metadata={"description": "the values submitted when it was completed"})


class ExportTimer(TimerOut):
    createdAt = fields.DateTime(attribute="created_at", required=True)
    firedAt = fields.DateTime(attribute="fired_at", allow_none=True)
    endedAt = fields.DateTime(attribute="ended_at", allow_none=True)
    attempts = fields.Integer(required=True)
    lastError = fields.String(attribute="last_error", allow_none=True)


class ExportInstance(Base):
    id = fields.String(required=True)
    definitionKey = fields.String(attribute="definition_key", required=True)
    version = fields.Integer(required=True)
    name = fields.String(required=True, metadata={"description": "the pathway's name"})
    businessKey = fields.String(attribute="business_key", allow_none=True)
    status = fields.String(required=True)
    incident = fields.String(allow_none=True)
    startedAt = fields.DateTime(attribute="started_at", required=True)
    startedBy = fields.String(attribute="started_by", allow_none=True)
    endedAt = fields.DateTime(attribute="ended_at", allow_none=True)
    variables = fields.Dict(required=True)
    tasks = fields.List(fields.Nested(ExportTask), required=True)
    timers = fields.List(fields.Nested(ExportTimer), required=True)
    history = fields.List(fields.Nested(HistoryEvent), required=True)


class ExportDocument(DocumentOut):
    createdBy = fields.String(attribute="created_by", allow_none=True)
    content = fields.String(attribute="html", required=True, metadata={"description": "the document as HTML"})


class SubjectAccessExport(Base):
    childId = fields.String(required=True)
    exportedAt = fields.DateTime(required=True)
    exportedBy = fields.String(required=True)
    child = fields.Nested(ExportChild, allow_none=True,
                          metadata={"description": "the register entry; null when only a pathway names the child"})
    family = fields.Nested(ExportFamily, allow_none=True)
    episodes = fields.List(fields.Nested(EpisodeOut), required=True)
    processInstances = fields.List(fields.Nested(ExportInstance), required=True)
    childHistory = fields.List(fields.Nested(HistoryEvent), required=True,
                               metadata={"description": "every register change and read recorded against the child"})
    documents = fields.List(fields.Nested(ExportDocument), required=True)
