"""Sign in and out; the inbox (your tasks and your groups' trays); the task page."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import wraps
from typing import Any, Callable

import sqlalchemy as sa
from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from werkzeug.security import check_password_hash

from .. import access
from ..engine import EngineError
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..extensions import db
from ..models import Task, TaskStatus, User
from ..services import forms
from ..services.projection import audit
from ..services.sign_in import locked_minutes
from ..services import tasks as task_service
from ..services.transaction import commit
from . import bp
from .due import due_words
from .formfields import read, shown
from .labels import group_label, teams_label
from .oidc import enabled as oidc_enabled
from .recorded import recorded_steps, steps_recorded
from .rows import display_names, now, task_rows
from .sessions import begin_session, safe_next


MAX_FAILED_SIGN_INS = 5
LOCK_MINUTES = 15


def signed_in(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        user = db.session.get(User, session.get("user_id") or "")
        if user is None or session.get("epoch") != user.session_epoch:
            session.clear()
            return redirect(url_for("web.sign_in", next=request.path))
        g.user = user
        return view(*args, **kwargs)

    return wrapper


@bp.app_context_processor
def layout() -> dict[str, Any]:
    return {"current_user": g.get("user"), "tray_counts": _tray_counts(g.user) if g.get("user") else {}}


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    password = current_app.config["PATHWAYS_PASSWORD_SIGN_IN"]
    if request.method == "POST" and not password:
        return render_template("web/not_found.html"), 404
    errors: dict[str, str] = {}
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        if not username:
            errors["username"] = "Enter your username"
        if not request.form.get("password"):
            errors["password"] = "Enter your password"
        if not errors:
            user = db.session.get(User, username)
            wall_clock = datetime.now(timezone.utc)
            minutes = locked_minutes(user, wall_clock) if user is not None else None
            if minutes is not None:
                # Locked: the same answer whatever the password, so guessing learns nothing.
                errors["username"] = (f"Too many attempts: this account is locked. Try again in {minutes} "
                                      f"minute{'s' if minutes != 1 else ''}")
            elif user is None or not user.password_hash or not check_password_hash(
                    user.password_hash, request.form["password"]):
                errors["username"] = "Enter a correct username and password"
                if user is not None:
                    user.failed_sign_ins += 1
                    if user.failed_sign_ins >= MAX_FAILED_SIGN_INS:
                        user.locked_until = wall_clock + timedelta(minutes=LOCK_MINUTES)
                        user.failed_sign_ins = 0
                        audit(None, "account_locked", user.id, minutes=LOCK_MINUTES)
                    db.session.commit()
            else:
                user.failed_sign_ins, user.locked_until = 0, None
                audit(None, "signed_in", user.id, method="password")
                db.session.commit()
                begin_session(user)
                return redirect(safe_next(request.args.get("next")))
    oidc_name = current_app.config["PATHWAYS_OIDC_NAME"] if oidc_enabled() else None
    return render_template("web/sign_in.html", errors=errors, username=username, password=password,
                           oidc_name=oidc_name, next=request.args.get("next")), 400 if errors else 200


@bp.post("/sign-out")
def sign_out():
    user = db.session.get(User, session.get("user_id") or "")
    if user is not None and request.form.get("everywhere") == "yes":
        user.session_epoch += 1  # every other session of this user stops working too
        audit(None, "signed_out_everywhere", user.id)
        db.session.commit()
    session.clear()
    return redirect(url_for("web.sign_in"))


def _open_visible(user: User):
    return task_service.visible_tasks_query(user).where(Task.status == TaskStatus.ACTIVE.value)


def _tray_counts(user: User) -> dict[str, int]:
    """For the header: tasks assigned to the user, and tasks in their trays nobody has claimed."""
    open_tasks = _open_visible(user).subquery()
    mine = db.session.execute(sa.select(sa.func.count()).select_from(open_tasks)
                              .where(open_tasks.c.assignee == user.id)).scalar_one()
    unclaimed = db.session.execute(sa.select(sa.func.count()).select_from(open_tasks)
                                   .where(open_tasks.c.assignee.is_(None))).scalar_one()
    return {"mine": mine, "unclaimed": unclaimed}


def _sorted(tasks: list[Task]) -> list[Task]:
    far = now().replace(year=9999)
    return sorted(tasks, key=lambda t: (t.due_at or far, t.created_at, t.id))


@bp.get("/")
@signed_in
def inbox():
    user = g.user
    pathway, only_overdue = request.args.get("pathway") or None, request.args.get("overdue") == "yes"
    group = request.args.get("group") or None
    open_tasks = list(db.session.execute(_open_visible(user)).scalars().unique())
    if pathway:
        open_tasks = [t for t in open_tasks if t.definition_key == pathway]
    rows = task_rows(_sorted(open_tasks))
    if only_overdue:
        rows = [r for r in rows if r["overdue"]]
    mine = [r for r in rows if r["task"].assignee == user.id]
    trays = [_tray(g_, [r for r in rows if g_ in r["task"].candidate_groups and r["task"].assignee != user.id])
             for g_ in user.groups if group in (None, g_)]
    pathways = sorted({t.definition_key for t in open_tasks} | ({pathway} if pathway else set()))
    return render_template("web/inbox.html", mine=mine, trays=trays, pathways=pathways, pathway=pathway,
                           only_overdue=only_overdue, groups=user.groups, group=group)


def _tray(group: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A group's tray; when its cases are held by more than one team, the rows grouped by
    team (the team of the soonest due task first), each still in due-date order."""
    by_team: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_team.setdefault(tuple(row["teams"]), []).append(row)
    teams = [(teams_label(list(key)), team_rows) for key, team_rows in by_team.items()] if len(by_team) > 1 else []
    return {"group": group, "label": group_label(group), "rows": rows, "teams": teams}


def _visible_task(task_id: str) -> Task:
    # Outside the user's cases this is the same 404 as a task that does not exist.
    return task_service.get_visible(g.user, task_id)


def _forbidden(exc: Forbidden):
    """Something the user may see but not do: say so (403), not "not found"."""
    return render_template("web/forbidden.html", message=f"You {exc.message.removeprefix('you ')}."), 403


# The latest steps' answers shown with a task, and on the case page (a case of years has hundreds).
TASK_PAGE_STEPS = 5
CASE_PAGE_STEPS = 50


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@signed_in
def task_page(task_id: str):
    try:
        task = _visible_task(task_id)
    except NotFound:
        return render_template("web/not_found.html"), 404
    fields = shown(task.form)
    errors: dict[str, str] = {}
    raw: dict[str, Any] = {}
    if request.method == "POST":
        variables, errors, raw = read(task.form, request.form)
        if errors:
            engine = current_app.extensions["pathways.engine"]
            _every_error(errors, task.form, variables,
                         task.instance.variables if forms.reads_case_variables(task.form) else {}, engine.evaluate)
        if not errors:
            try:
                task_service.complete(current_app.extensions["pathways.engine"], g.user, task.id, variables)
            except Invalid as exc:
                db.session.rollback()
                errors = {k: (v[0] if isinstance(v, list) else str(v)) for k, v in exc.details.items()} or \
                    {"form": exc.message}
            except Forbidden as exc:
                db.session.rollback()
                return _forbidden(exc)
            except Conflict as exc:
                db.session.rollback()
                flash(exc.message, "error")
                return redirect(url_for("web.inbox"))
            else:
                return _next_after(task)
    words, colour = due_words(current_app.extensions["pathways.calendar"], task.due_at, now())
    # What the steps before recorded: the next person decides on it (one more to know if there is more).
    recorded = recorded_steps(task.instance_id, limit=TASK_PAGE_STEPS + 1)
    status = 400 if errors else 200
    page = render_template("web/task.html", task=task, row=task_rows([task])[0], fields=fields, errors=errors,
                           raw=raw, due_words=words, due_colour=colour,
                           may_work=task_service.may_work(g.user, task),
                           held_by_other=bool(task.assignee) and task.assignee != g.user.id
                           and not g.user.has_role("manager"),
                           recorded=recorded[:TASK_PAGE_STEPS], more_recorded=len(recorded) > TASK_PAGE_STEPS,
                           colleagues=colleagues(task) if g.user.has_role("manager") else [])
    access.record_read(g.user, "task", instance_id=task.instance_id, child_id=task.instance.child_id)
    commit()
    return page, status


def _next_after(task: Task):
    """On to the user's next task in this case, or back to the inbox."""
    following = [t for t in db.session.execute(_open_visible(g.user).where(
        Task.instance_id == task.instance_id)).scalars().unique()
        if t.assignee in (None, g.user.id)]
    flash(f"“{task.name}” is done.", "success")
    if following:
        return redirect(url_for("web.task_page", task_id=_sorted(following)[0].id))
    return redirect(url_for("web.inbox"))


@bp.post("/tasks/<task_id>/claim")
@signed_in
def claim(task_id: str):
    return _ownership(task_id, lambda: task_service.claim(g.user, task_id), "You have claimed this task.")


@bp.post("/tasks/<task_id>/release")
@signed_in
def release(task_id: str):
    return _ownership(task_id, lambda: task_service.unclaim(g.user, task_id), "You have released this task.")


def _ownership(task_id: str, action: Callable, message: str):
    try:
        action()
        flash(message, "success")
    except NotFound:
        db.session.rollback()
        return render_template("web/not_found.html"), 404
    except Forbidden as exc:
        db.session.rollback()
        return _forbidden(exc)
    except (Conflict, Invalid) as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("web.task_page", task_id=task_id))


# -- the case page ---------------------------------------------------------------------------

_EVENT_WORDS = {
    "instance_started": "Pathway started", "task_created": "Task ready", "task_completed": "Task completed",
    "task_claimed": "Task claimed", "task_unclaimed": "Task released", "task_assigned": "Task assigned",
    "task_cancelled": "Task closed by the pathway", "task_due_changed": "Due date moved",
    "activity_completed": "Step passed",
    "decision_evaluated": "Decision made", "timer_scheduled": "Deadline timer set", "timer_fired": "Deadline reached",
    "document_produced": "Document written", "episode_opened": "Team started holding the child",
    "episode_closed": "Team stopped holding the child", "episode_updated": "Team episode changed",
    "child_registered": "Child added to the register", "instance_completed": "Pathway ended",
    "instance_cancelled": "Pathway cancelled", "incident": "Incident", "access_denied": "Access refused",
    "case_viewed": "Case viewed", "handed_over": "Case handed over",
}
_QUIET = {"timer_scheduled", "case_viewed", "child_viewed"}


def _other_case(event) -> str | None:
    """The case a hand-over went to or came from, for a link, if this user may see it."""
    from .. import access

    details = event.details or {}
    other = details.get("processInstanceId") if event.type == "handed_over" else (
        details.get("handedOverFrom") if event.type == "instance_started" else None)
    return other if other and access.may_see_instance(g.user, other) else None


def _pathway_name(key: str | None) -> str:
    """A pathway by its name ("Child in Need team"), not its key."""
    from ..models import ProcessDefinition
    from ..services.deployments import latest

    definition = latest(ProcessDefinition, key) if key else None
    return definition.name if definition is not None else (key or "another pathway")


def _event_text(event) -> str:
    details = event.details or {}
    parts = [details.get("name") or details.get("title") or ""]
    if event.type in ("episode_opened", "episode_closed", "episode_updated"):
        parts = [f"{details.get('team')} ({details.get('status')})"]
    if event.type == "instance_completed" and details.get("outcome"):
        parts = [f"outcome: {str(details['outcome']).replace('_', ' ')}"]
    if event.type == "handed_over":
        parts = [f"goes on in {_pathway_name(details.get('definitionKey'))}"]
    if event.type == "instance_started" and details.get("handedOverFrom"):
        parts = [f"handed over from {_pathway_name(details.get('fromDefinitionKey'))}"]
    if event.type == "decision_evaluated":
        parts.append(", ".join(f"{k} = {v}" for k, v in (details.get("outputs") or {}).items()))
    return " · ".join(p for p in parts if p)


@bp.get("/cases/<instance_id>")
@signed_in
def case_page(instance_id: str):
    from ..models import AuditEvent, Document
    from ..services import projection, register

    instance = _visible_instance(instance_id)
    if instance is None:
        return render_template("web/not_found.html"), 404
    child_id = (instance.variables or {}).get("childId")
    held = register.holding(str(child_id)) if child_id else []
    open_tasks = projection.open_tasks(instance.id)
    timers = projection.pending_timers(instance.id)
    events = list(db.session.execute(sa.select(AuditEvent).where(AuditEvent.instance_id == instance.id)
                                     .order_by(AuditEvent.at, AuditEvent.id)).scalars())
    documents = list(db.session.execute(sa.select(Document).where(Document.instance_id == instance.id)
                                        .order_by(Document.created_at)).scalars())
    done = sorted({e.activity_id for e in events if e.activity_id and e.type in ("task_completed",
                                                                               "activity_completed")})
    current = sorted({t.activity_id for t in open_tasks} | {t.activity_id for t in timers})
    # The diagram's text alternative, shown with or without JavaScript.
    waiting = [{"name": t.name or t.activity_id, "due": t.due_at} for t in sorted(timers, key=lambda t: t.due_at)]
    diagrams = [{"key": instance.definition_key, "title": instance.definition.name}] + [
        {"key": d.key, "title": d.name} for d in _called_definitions(instance)]
    audit(instance.id, "case_viewed", g.user.id, child_id=str(child_id) if child_id else None)
    commit()
    shown = [e for e in events if e.type not in _QUIET]
    # People by the name staff know them by; an id no longer in the user table as it was.
    people = display_names(e.user for e in shown)
    timeline = [{"at": e.at, "what": _EVENT_WORDS.get(e.type, e.type.replace("_", " ").capitalize()),
                 "detail": _event_text(e), "who": people.get(e.user) or e.user or "Pathways",
                 "other_case": _other_case(e)} for e in shown]
    from ..models import Child

    registered = db.session.get(Child, str(child_id)) if child_id else None
    return render_template("web/case.html", instance=instance, held=held,
                           child={"child_id": child_id, "child_name": registered.name if registered else None},
                           tasks=task_rows(_sorted(open_tasks)), timeline=timeline, documents=documents,
                           done=done, current=current, waiting=waiting, definition_name=instance.definition.name,
                           diagrams=diagrams, recorded=steps_recorded(
                               [e for e in reversed(events) if e.type == "task_completed"][:CASE_PAGE_STEPS]))


def _visible_instance(instance_id: str):
    """The case, if this user may see it (app/access.py); None answers 404 either way."""
    try:
        return access.instance_for(g.user, instance_id)
    except NotFound:
        return None


def _called_definitions(instance) -> list:
    """The processes this instance's version calls, as deployed with it (or before it)."""
    from ..models import ProcessDefinition

    keys = [k for k in (instance.definition.spec or {}).get("subprocessSpecs", {}) if k != instance.definition_key]
    if not keys:
        return []
    rows = db.session.execute(sa.select(ProcessDefinition).where(
        ProcessDefinition.key.in_(keys), ProcessDefinition.deployment_id <= instance.definition.deployment_id)
        .order_by(ProcessDefinition.key, ProcessDefinition.version.desc())).scalars()
    newest: dict[str, Any] = {}
    for row in rows:
        newest.setdefault(row.key, row)
    return [newest[k] for k in sorted(newest)]


@bp.get("/cases/<instance_id>/diagrams/<key>.bpmn")
@signed_in
def case_diagram(instance_id: str, key: str):
    instance = _visible_instance(instance_id)
    if instance is None:
        return render_template("web/not_found.html"), 404
    if key == instance.definition_key:
        return current_app.response_class(instance.definition.source_xml, mimetype="application/xml")
    called = {d.key: d for d in _called_definitions(instance)}
    if key not in called:
        return render_template("web/not_found.html"), 404
    return current_app.response_class(called[key].source_xml, mimetype="application/xml")


@bp.get("/documents/<document_id>.<kind>")
@signed_in
def document_file(document_id: str, kind: str):
    try:
        document = access.document_for(g.user, document_id)
    except NotFound:
        document = None
    if document is None or kind not in ("pdf", "html"):
        return render_template("web/not_found.html"), 404
    access.record_read(g.user, f"document {kind}", instance_id=document.instance_id, child_id=document.child_id)
    commit()
    if kind == "html":
        return current_app.response_class(document.html, mimetype="text/html")
    return current_app.response_class(document.pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{document.kind}-{document.id[:8]}.pdf"'})


# -- starting a pathway ------------------------------------------------------------------------

def _may_start(user: User) -> bool:
    return user.has_role("integrator") or user.has_role("manager")


@bp.get("/start")
@signed_in
def start_list():
    from ..models import ProcessDefinition
    from ..services.deployments import latest_versions

    if not _may_start(g.user):
        return render_template("web/not_found.html"), 404
    engine = current_app.extensions["pathways.engine"]
    from ..services.projection import stored_spec

    startable = [d for d in latest_versions(ProcessDefinition)
                 if engine.start_form(d.id, stored_spec(d.id))]  # called-only processes have no start form
    return render_template("web/start_list.html", definitions=startable)


@bp.route("/start/<key>", methods=["GET", "POST"])
@signed_in
def start_pathway(key: str):
    from ..models import ProcessDefinition
    from ..services import instances
    from ..services.deployments import latest
    from ..services.projection import stored_spec

    definition = latest(ProcessDefinition, key)
    if definition is None or not _may_start(g.user):
        return render_template("web/not_found.html"), 404
    engine = current_app.extensions["pathways.engine"]
    # A list of the family's children (type "children") has no GOV.UK input: it is given by
    # the API, and the pathway starts without it (the case's one child) when started here.
    form_spec = [f for f in engine.start_form(definition.id, stored_spec(definition.id)) if f["type"] != "children"]
    fields = shown(form_spec)
    errors: dict[str, str] = {}
    raw: dict[str, Any] = {}
    business_key = request.form.get("businessKey", "").strip()
    if request.method == "POST":
        variables, errors, raw = read(form_spec, request.form)
        if not business_key:
            errors["businessKey"] = "Enter the case reference"
        if errors:
            _every_error(errors, form_spec, variables)
        if not errors:
            try:
                rota = current_app.extensions["pathways.duty_rotas"].get(key)
                instance = instances.start(engine, g.user, key, business_key, variables, rota)
            except Invalid as exc:
                db.session.rollback()
                errors = {k: (v[0] if isinstance(v, list) else str(v)) for k, v in exc.details.items()}
            else:
                flash(f"{definition.name} started for {business_key}.", "success")
                return redirect(url_for("web.case_page", instance_id=instance.id))
    return render_template("web/start.html", definition=definition, fields=fields, errors=errors, raw=raw,
                           business_key=business_key), 400 if errors else 200


def _every_error(errors: dict[str, str], fields: list[dict[str, Any]], variables: dict[str, Any],
                 known: dict[str, Any] | None = None, evaluate: Any = None) -> None:
    """Add to ``errors`` (what the page could not even read: a date that is not a date) what
    the form's own check says of the rest, so the error summary lists every problem at once."""
    try:
        forms.validate(fields, variables, known, evaluate)
    except Invalid as exc:
        errors.update({k: v[0] for k, v in exc.details.items() if k not in errors})
    except EngineError:
        pass  # a requiredWhen that cannot be worked out: the full check says so once these are fixed


# -- assigning ----------------------------------------------------------------------------------

@bp.post("/tasks/<task_id>/assign")
@signed_in
def assign(task_id: str):
    colleague = request.form.get("userId", "")
    # Named as staff know them, as the task page's "Claimed by" does.
    name = display_names([colleague]).get(colleague, colleague)
    return _ownership(task_id, lambda: task_service.assign(g.user, task_id, colleague),
                      f"The task is now assigned to {name}.")


def colleagues(task: Task) -> list[User]:
    """Who the task could be given to: members of its groups."""
    users = db.session.execute(sa.select(User).order_by(User.id)).scalars()
    return [u for u in users if set(u.groups) & set(task.candidate_groups)]
