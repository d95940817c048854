"""Embedded mode (no Redis): the server fires due timers itself in a background thread."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Callable

from flask import Flask

log = logging.getLogger(__name__)


def start_timer_thread(app: Flask) -> Callable[[], None]:
    """Fire due timers every PATHWAYS_EMBEDDED_TIMER_SECONDS; return a function that stops it."""
    from .services import timers

    stop = threading.Event()
    every = app.config["PATHWAYS_EMBEDDED_TIMER_SECONDS"]

    def loop() -> None:
        while not stop.wait(every):
            try:
                with app.app_context():
                    counts = timers.run_due(app.extensions["pathways.engine"], datetime.now(timezone.utc))
                if counts:
                    log.info("timers: %s", counts)
            except Exception:  # noqa: BLE001 - keep firing after a database hiccup
                log.exception("firing due timers failed; trying again in %ss", every)

    thread = threading.Thread(target=loop, name="embedded-timers", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=30)

    return halt
