"""`pathways worker`: an RQ worker with its scheduler, plus a periodic sweep that puts
back any timer whose job Redis lost."""
from __future__ import annotations

import logging
import threading

from flask import Flask
from rq import SimpleWorker
from rq.exceptions import StopRequested

log = logging.getLogger(__name__)

# RQ retries taking over the scheduler only at its maintenance, every 10 minutes by
# default. After a crash the dead scheduler's lock lapses in about a minute; retrying
# every minute means the restarted worker schedules timers again soon after.
MAINTENANCE_SECONDS = 60
# RQ's work loop ends on an error it does not expect (a Redis timeout among them); the
# worker starts a new one after this pause rather than leave timers to nobody.
RESTART_PAUSE_SECONDS = 5.0


class TimerWorker(SimpleWorker):
    """RQ's SimpleWorker, remembering whether it was asked to stop (SIGTERM, SIGINT):
    its loop also ends on errors, and only a stop that was asked for ends the worker."""

    asked_to_stop = False

    def request_stop(self, signum, frame):
        self.asked_to_stop = True
        super().request_stop(signum, frame)


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
    try:
        while True:
            # SimpleWorker runs jobs in this process: a timer firing takes milliseconds, and a
            # fork per job would cost more than the job. A crash loses nothing: the sweep
            # re-delivers.
            worker = TimerWorker([queue.queue], connection=queue.connection,
                                 maintenance_interval=MAINTENANCE_SECONDS)
            try:
                worker.work(with_scheduler=True, burst=burst, logging_level="WARNING")
            except Exception:  # noqa: BLE001 - e.g. Redis down while the worker registers
                log.exception("the RQ worker stopped on an error")
            if burst or worker.asked_to_stop:
                return
            log.warning("the RQ worker's loop ended unasked; starting another in %ss", RESTART_PAUSE_SECONDS)
            try:
                stop.wait(RESTART_PAUSE_SECONDS)
            except StopRequested:  # SIGTERM in the pause: the last worker's handler raises it
                return
    finally:
        stop.set()
