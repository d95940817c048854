"""Jobs the RQ worker runs. Each builds on one Flask app per worker process."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from flask import Flask

_app: Flask | None = None
# Further ahead than this and the job leaves it; the sweep delivers it again on time.
EARLY_GRACE_SECONDS = 5.0


def app() -> Flask:
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app


def fire_timer(timer_id: str) -> str:
    """Fire one timer. A failure is counted and re-raised so RQ retries it with backoff;
    after the last attempt the instance is put in incident and the job ends quietly."""
    from app.services import timers

    flask_app = app()
    with flask_app.app_context():
        engine = flask_app.extensions["pathways.engine"]
        queue = flask_app.extensions["pathways.timer_queue"]
        try:
            outcome = timers.fire(engine, timer_id, datetime.now(timezone.utc))
            if outcome == timers.NOT_DUE:
                # Delivered a little early (clock skew between hosts): wait for the due time.
                wait = timers.seconds_until_due(timer_id)
                if wait is not None and wait <= EARLY_GRACE_SECONDS:
                    time.sleep(wait + 0.001)
                    outcome = timers.fire(engine, timer_id, datetime.now(timezone.utc))
            return outcome
        except Exception as exc:
            if timers.record_failure(timer_id, exc, queue.max_attempts):
                return "incident"
            raise
