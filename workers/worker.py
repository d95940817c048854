"""`pathways worker`: an RQ worker with its scheduler, plus a periodic sweep that puts
back any timer whose job Redis lost."""
from __future__ import annotations

import logging
import threading

from flask import Flask
from rq import SimpleWorker

log = logging.getLogger(__name__)


def sweep_forever(app: Flask, every: float, stop: threading.Event) -> None:
    from app.services import timers

    while not stop.wait(every):
        try:
            with app.app_context():
                result = timers.sweep(app.extensions["pathways.timer_queue"])
            if result.requeued:
                log.warning("sweep put back %d lost timer job(s) of %d pending", result.requeued, result.pending)
        except Exception:  # noqa: BLE001 - the sweep must outlive a database or Redis outage
            log.exception("timer sweep failed; trying again in %ss", every)


def run(app: Flask, burst: bool = False, sweep_every: float = 30.0) -> None:
    from . import jobs

    jobs._app = app  # the jobs of this process use this app, created once
    queue = app.extensions["pathways.timer_queue"]
    stop = threading.Event()
    if sweep_every > 0:
        threading.Thread(target=sweep_forever, args=(app, sweep_every, stop), daemon=True,
                         name="timer-sweep").start()
    # SimpleWorker runs jobs in this process: a timer firing takes milliseconds, and a fork
    # per job would cost more than the job. A crash loses nothing: the sweep re-delivers.
    worker = SimpleWorker([queue.queue], connection=queue.connection)
    try:
        worker.work(with_scheduler=True, burst=burst, logging_level="WARNING")
    finally:
        stop.set()
