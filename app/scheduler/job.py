"""The scheduler process: a `SchedulerJob` row with a heartbeat, around the loop.

Several schedulers may share one PostgreSQL database (see app.scheduler.loop). SQLite allows one
scheduler: a second one on the same database file refuses to start.
"""
from __future__ import annotations

import contextlib
import fcntl
import getpass
import logging
import signal
import socket
import threading
import time
from pathlib import Path

from flask import Flask
from sqlalchemy import update

from app.extensions import db
from app.models import Job, utcnow
from app.scheduler.executor import JOB_TYPE
from app.scheduler.gate import LoopGate
from app.scheduler.loop import SchedulerLoop

log = logging.getLogger(__name__)


class SchedulerAlreadyRunning(RuntimeError):
    """A second scheduler on a SQLite database."""


@contextlib.contextmanager
def sqlite_scheduler_lock(engine):
    """On a SQLite file, hold an exclusive lock on `<database>.scheduler.lock` while the scheduler
    runs; the operating system releases it however the process ends."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    with open(Path(database + ".scheduler.lock"), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SchedulerAlreadyRunning(
                f"Another scheduler is already running on the SQLite database {database}. SQLite "
                "allows one scheduler; use PostgreSQL to run several."
            ) from None
        yield


class SchedulerJob:
    def __init__(self, app: Flask):
        self.app = app
        self.conf = app.extensions["stableflow.conf"]
        self.job_id: int | None = None
        self.stop_event = threading.Event()

    def register(self) -> int:
        now = utcnow()
        job = Job(
            job_type=JOB_TYPE, state="running", start_date=now, latest_heartbeat=now, hostname=socket.getfqdn(),
            unixname=getpass.getuser(), executor_class="SimulatedExecutor",
        )
        db.session.add(job)
        db.session.commit()
        self.job_id = job.id
        return job.id

    def heartbeat(self, loop_seconds: float | None = None) -> None:
        """Refresh the heartbeat; with the duration of the loop before it, for GET /metrics."""
        # A scheduler another one took for dead (a loop slower than the zombie threshold) is
        # running again; the tries adopted meanwhile stay with their adopter.
        values: dict = {"latest_heartbeat": utcnow(), "state": "running"}
        if loop_seconds is not None:
            values.update(
                loop_count=Job.loop_count + 1,
                loop_seconds_total=Job.loop_seconds_total + loop_seconds,
                last_loop_seconds=loop_seconds,
            )
        try:
            db.session.execute(update(Job).where(Job.id == self.job_id).values(**values))
            db.session.commit()
        except Exception:  # the database may be back next loop; /health shows the gap meanwhile
            log.exception("Scheduler heartbeat failed")
            db.session.rollback()

    def _finish(self) -> None:
        try:
            db.session.rollback()
            db.session.execute(update(Job).where(Job.id == self.job_id).values(state="success", end_date=utcnow()))
            db.session.commit()
        except Exception:  # the job then looks dead: another scheduler adopts its tries
            log.exception("Could not mark scheduler job %s finished", self.job_id)

    def install_signal_handlers(self) -> None:
        def _stop(signum, _frame):
            log.info("Scheduler received signal %s; stopping after this loop", signum)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def run(self, num_runs: int | None = None) -> None:
        """Loop until stopped (or `num_runs` loops), every `[scheduler] scheduler_heartbeat_sec`
        when idle, sooner when a try is due, at once while there is work."""
        interval = self.conf.getfloat("scheduler", "scheduler_heartbeat_sec")
        with self.app.app_context(), sqlite_scheduler_lock(db.engine):
            self.register()
            log.info("Scheduler job %s started", self.job_id)
            loop = SchedulerLoop(self.conf, self.job_id)
            gate = LoopGate(db.engine)
            loops, loop_seconds = 0, None
            try:
                while not self.stop_event.is_set():
                    with gate.loop():
                        self.heartbeat(loop_seconds)
                        started = time.perf_counter()
                        busy = loop.run_once()
                        loop_seconds = time.perf_counter() - started
                    loops += 1
                    if num_runs is not None and loops >= num_runs:
                        break
                    if not busy:
                        self.stop_event.wait(_idle_wait(loop, interval))
            finally:
                gate.close()
                self._finish()
                log.info("Scheduler job %s stopped", self.job_id)


def _idle_wait(loop: SchedulerLoop, interval: float) -> float:
    try:
        soonest = loop.seconds_to_next_event()
    except Exception:
        log.exception("Could not read the next due try")
        return interval
    return interval if soonest is None else max(0.0, min(interval, soonest))
