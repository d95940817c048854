"""Working a pathway through the API in scenario tests: find a step among an instance's
active tasks and complete it as a user."""
from __future__ import annotations

from datetime import datetime


def on(api, instant):
    """Do the steps that follow as if it were ``instant`` (ISO, 'Z' allowed): a worker records
    a visit on or after the day it happened, so a scenario moves the clock on as its story
    does. The `app` fixture puts the suite's clock back after each test."""
    when = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    api.app.extensions["pathways.engine"].clock = lambda: when


def recorded(api, day):
    """Do the steps that follow the evening (17:00 UTC) of ``day`` (YYYY-MM-DD): a step is
    recorded the day what it records happened, and the story's clock moves on with it."""
    on(api, f"{day}T17:00:00Z")


def active(instance, activity_id):
    """The active task of ``activity_id``; fails naming the steps that are active instead."""
    matches = [t for t in instance["activeTasks"] if t["activityId"] == activity_id]
    assert matches, f"{activity_id} not active; active: {activities(instance)}"
    return matches[0]


def activities(instance):
    return sorted(t["activityId"] for t in instance["activeTasks"])


def complete(api, instance, activity_id, user, **variables):
    """Complete the step as ``user``; the response, whatever it is."""
    return api.as_(user).post(f"/tasks/{active(instance, activity_id)['id']}/complete", {"variables": variables})


def work(api, instance, activity_id, user, **variables):
    """Complete the step as ``user``, which must succeed; the instance after it."""
    response = complete(api, instance, activity_id, user, **variables)
    assert response.status_code == 200, response.json
    return response.json


def held_by(api, child_id):
    """(team, status) of each team the case register says holds the child now."""
    return [(h["team"], h["status"]) for h in api.get(f"/children/{child_id}").json["heldBy"]]


def from_inbox(api, user, activity_id, **variables):
    """Find the step among ``user``'s tasks (GET /tasks, as their inbox shows them) and
    complete it as them; the task as the inbox listed it, and the instance after it."""
    listed = [t for t in api.as_(user).get("/tasks").json if t["activityId"] == activity_id]
    assert len(listed) == 1, f"{user}'s inbox: {[t['activityId'] for t in api.as_(user).get('/tasks').json]}"
    response = api.as_(user).post(f"/tasks/{listed[0]['id']}/complete", {"variables": variables})
    assert response.status_code == 200, response.json
    return listed[0], response.json


def episodes(api, child_id):
    """(team, status, startedAt, endedAt) of every team episode of the child, in order."""
    return [(e["team"], e["status"], e["startedAt"], e["endedAt"])
            for e in api.get(f"/children/{child_id}").json["episodes"]]
