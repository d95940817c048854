"""Delivery of timers through RQ on Redis.

The database owns every timer; this module only puts a job on Redis for each one, due
at the timer's time and named by the timer's id, so a second copy of the same job is
harmless and a lost one can be found and put back by the sweep.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Iterable

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job, JobStatus
from rq.utils import utcparse

log = logging.getLogger(__name__)

QUEUE = "pathways-timers"
FIRE_JOB = "workers.jobs.fire_timer"
# Backoff between attempts of a failing timer; after the last the instance is an incident.
RETRY_INTERVALS = (5, 30, 120, 600)
# The outcome of a delivery ("fired", "not_pending"...) is kept briefly for whoever is
# investigating; the database is the record, so nothing depends on it.
RESULT_TTL = 60
_DEAD = {JobStatus.FAILED.value, JobStatus.STOPPED.value, JobStatus.CANCELED.value}


class TimerQueue:
    def __init__(self, redis_url: str, queue_name: str = QUEUE, stale_after: float = 60.0,
                 retry_intervals: tuple[int, ...] = RETRY_INTERVALS):
        self.connection = Redis.from_url(redis_url, socket_connect_timeout=5, socket_timeout=10)
        self.queue = Queue(queue_name, connection=self.connection)
        # A started job not heard of for this long belongs to a worker that died.
        self.stale_after = timedelta(seconds=stale_after)
        self.retry_intervals = list(retry_intervals)

    @property
    def max_attempts(self) -> int:
        return len(self.retry_intervals) + 1

    def schedule(self, timers: Iterable[tuple[str, datetime]]) -> int:
        """Enqueue a job per (timer id, due time); return how many were put on Redis."""
        count = 0
        now = datetime.now(timezone.utc)
        with self.connection.pipeline() as pipe:
            # A transaction from the first command: RQ's enqueue starts one on the pipeline
            # itself, which fails once an enqueue_at has already put commands on it.
            pipe.multi()
            for timer_id, due_at in timers:
                options = dict(job_id=timer_id, retry=Retry(max=len(self.retry_intervals), interval=self.retry_intervals),
                               result_ttl=RESULT_TTL, failure_ttl=7 * 86400, pipeline=pipe)
                if due_at <= now:
                    # Already due: straight onto the queue, not via the scheduler.
                    self.queue.enqueue(FIRE_JOB, timer_id, **options)
                else:
                    # RQ's scheduler keeps whole seconds: round up, never deliver early.
                    at = due_at.astimezone(timezone.utc)
                    if at.microsecond:
                        at = at.replace(microsecond=0) + timedelta(seconds=1)
                    self.queue.enqueue_at(at, FIRE_JOB, timer_id, **options)
                count += 1
            pipe.execute()
        return count

    def missing(self, timers: list[tuple[str, datetime]]) -> list[tuple[str, datetime]]:
        """The (timer id, due time) pairs among ``timers`` with no live job on Redis: none at
        all, a dead one, one started by a worker that has gone quiet, or one still waiting
        for a scheduler well after its time (the scheduler's worker died holding its lock)."""
        if not timers:
            return []
        # Only the fields we judge by, one round trip for the whole batch.
        scheduled_key = self.queue.scheduled_job_registry.key
        with self.connection.pipeline(transaction=False) as pipe:
            for timer_id, _ in timers:
                pipe.hmget(Job.key_for(timer_id), "status", "last_heartbeat", "started_at")
                pipe.zscore(scheduled_key, timer_id)
            answers = pipe.execute()
        fields = [(*answers[i], answers[i + 1]) for i in range(0, len(answers), 2)]
        now = datetime.now(timezone.utc)
        intermediate = self._intermediate()
        taken = set(intermediate.get_job_ids())
        lost = []
        for (timer_id, due_at), (status, heartbeat, started, scheduled_for) in zip(timers, fields, strict=True):
            status = status.decode() if status else None
            if status is None or status in _DEAD:
                lost.append((timer_id, due_at))
            elif (status != JobStatus.STARTED.value and timer_id in taken
                  and self._stranded(intermediate, timer_id, now)):
                lost.append((timer_id, due_at))
            elif status == JobStatus.FINISHED.value and due_at < now - self.stale_after:
                # Finished while its timer is still pending: it ran early and left it.
                lost.append((timer_id, due_at))
            elif status == JobStatus.STARTED.value:
                heard = heartbeat or started
                if heard and utcparse(heard.decode()).replace(tzinfo=timezone.utc) < now - self.stale_after:
                    lost.append((timer_id, due_at))
            elif status == JobStatus.SCHEDULED.value:
                # Judged by when the job is scheduled for, not when the timer was due: a failed
                # firing waits for its retry, and putting it back early would skip the backoff.
                when = datetime.fromtimestamp(scheduled_for, timezone.utc) if scheduled_for is not None else due_at
                if when < now - self.stale_after:
                    lost.append((timer_id, due_at))
        return lost

    def _stranded(self, intermediate: IntermediateQueue, job_id: str, now: datetime) -> bool:
        """Whether a job in RQ's intermediate list and not started (by its own status) was
        taken off the queue by a worker that died before starting it: first seen there over
        ``stale_after`` ago. A worker moves each job it takes through that list, so a job
        seen there once is usually just being started. RQ's registry clean-up is left to RQ.

        "Not started" is the job's own status: a worker marks a job started as it takes it
        out of that list, in one step. RQ's started registry is not asked, as it can keep
        the entry of an execution whose worker was killed, for the job's whole timeout; a
        job taken again after such a kill and stranded in turn was passed over for that long
        (seen here: a timer not fired four minutes after its worker was restarted)."""
        intermediate.set_first_seen(job_id)
        first_seen = intermediate.get_first_seen(job_id)
        return first_seen is not None and first_seen < now - self.stale_after

    def reschedule(self, timers: list[tuple[str, datetime]]) -> int:
        """Replace whatever is left of these timers' jobs with fresh ones."""
        intermediate = self._intermediate()
        for timer_id, _ in timers:
            intermediate.remove(timer_id)
            self.connection.delete(intermediate.get_first_seen_key(timer_id))
            try:
                Job.fetch(timer_id, connection=self.connection).delete(remove_from_queue=True)
            except NoSuchJobError:
                pass
        return self.schedule(timers)

    def _intermediate(self) -> IntermediateQueue:
        return IntermediateQueue(self.queue.key, self.connection)

    def ping(self) -> bool:
        try:
            return bool(self.connection.ping())
        except RedisError:
            return False


def schedule_quietly(queue: TimerQueue | None, timers: list[tuple[str, datetime]]) -> None:
    """After commit: a Redis failure here loses nothing, the sweep will enqueue them."""
    if queue is None or not timers:
        return
    try:
        queue.schedule(timers)
    except RedisError as exc:
        log.warning("could not enqueue %d timer(s), the sweep will: %s", len(timers), exc)
