"""One scheduler loop: parse changed DAG files, create runs, start runs, and move task instances.

Each step is its own short transaction on rows it has locked, so schedulers sharing a PostgreSQL
database split the work instead of doing it twice, and a killed scheduler's locks vanish with its
connection. Steps work in batches with a constant number of queries per batch. Log lines are
written once the transaction that made them has committed, so a rolled-back step writes none.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Callable
from types import SimpleNamespace

from sqlalchemy import and_, func, or_, select

from app.dags import processor
from app.dags.structure import DagSpec
from app.extensions import db
from app.models import SerializedDag, TaskInstance, utcnow
from app.runs import states as S
from app.runs.logs import write_try_log
from app.scheduler import dagruns, executor

log = logging.getLogger(__name__)

# Tries that take no time end in the same loop: rounds of end -> schedule -> start, at most this many.
MAX_ROUNDS = 50


class SchedulerLoop:
    def __init__(self, conf, job_id: int, *, clock: Callable[[], dt.datetime] = utcnow):
        self.conf = conf
        self.job_id = job_id
        # Simulated time is read from `clock` (tests move it); heartbeats use the real time.
        self.clock = clock
        self.speed = conf.getfloat("scheduler", "simulation_speed")
        self.parallelism = conf.getint("scheduler", "parallelism")
        self.parse_interval = conf.getfloat("scheduler", "dag_dir_list_interval")
        self.zombie_threshold = conf.getfloat("scheduler", "scheduler_zombie_task_threshold")
        self.hostname = socket.getfqdn()
        self.pid = os.getpid()
        self._last_parse: float | None = None
        self._specs: dict[str, tuple[str, DagSpec]] = {}
        self._pending_logs: list[tuple[SimpleNamespace, list[str]]] = []

    # -- the loop ------------------------------------------------------------------------------
    def run_once(self) -> bool:
        """Do one loop; True when it changed something (so the next one should not wait)."""
        self._parse()
        now = self.clock()
        work = 0
        for dag_id in self._step(dagruns.scheduled_run_candidates, now) or []:
            work += self._step(dagruns.create_scheduled_run, self, dag_id, now) or 0
        for dag_id in self._step(dagruns.dataset_run_candidates) or []:
            work += self._step(dagruns.create_dataset_run, self, dag_id, now) or 0
        work += self._step(executor.adopt_orphaned_tries, self) or 0
        for _ in range(MAX_ROUNDS):
            now = self.clock()
            ended = self._step(executor.finish_due_tries, self, now) or 0
            changed = self._step(dagruns.advance_runs, self, now) or 0
            runs = self._step(dagruns.start_queued_runs, self, now) or 0
            started = self._step(executor.start_tries, self, now) or []
            work += ended + changed + runs + len(started)
            # Go round again while tries that take no time were started, or runs whose tasks may.
            if not runs and not any(ti.next_event_at <= now for ti in started):
                break
        return work > 0

    def seconds_to_next_event(self) -> float | None:
        """Until this scheduler's next try ends or a retry is due (None: nothing is waiting)."""
        mine = and_(TaskInstance.state == S.RUNNING, TaskInstance.queued_by_job_id == self.job_id)
        try:
            soonest = db.session.execute(
                select(func.min(TaskInstance.next_event_at)).where(or_(mine, TaskInstance.state == S.UP_FOR_RETRY))
            ).scalar()
        finally:
            db.session.rollback()
        return None if soonest is None else (soonest - self.clock()).total_seconds()

    def _step(self, fn, *args):
        """Run one step in its own transaction; a failed step is logged and retried next loop."""
        try:
            result = fn(*args)
            db.session.commit()
        except Exception:
            log.exception("Scheduler step %s failed; it is retried in the next loop", fn.__name__)
            self._pending_logs.clear()
            db.session.rollback()
            return None
        finally:
            db.session.expunge_all()
        self._write_pending_logs()
        return result

    def _parse(self) -> None:
        """Parse the DAG folder every dag_dir_list_interval (changed files only), and the files
        asked for through the API in between."""
        due = self._last_parse is None or time.monotonic() - self._last_parse >= self.parse_interval
        try:
            if due:
                processor.process_folder(self.conf, wait=False)
                self._last_parse = time.monotonic()
            else:
                processor.process_priority_requests(self.conf)
        except Exception:
            log.exception("Parsing the DAG folder failed")
            db.session.rollback()
        finally:
            db.session.expunge_all()

    # -- what the steps share ------------------------------------------------------------------
    def specs(self, dag_ids) -> dict[str, DagSpec]:
        """DagSpecs by DAG id; a DAG's structure is decoded again only when its hash changed."""
        ids = sorted(set(dag_ids))
        if not ids:
            return {}
        hashes = dict(
            db.session.execute(select(SerializedDag.dag_id, SerializedDag.dag_hash).where(SerializedDag.dag_id.in_(ids))).all()
        )
        stale = [dag_id for dag_id, dag_hash in hashes.items() if self._specs.get(dag_id, ("",))[0] != dag_hash]
        if stale:
            for dag_id, dag_hash, data in db.session.execute(
                select(SerializedDag.dag_id, SerializedDag.dag_hash, SerializedDag.data).where(SerializedDag.dag_id.in_(stale))
            ):
                self._specs[dag_id] = (dag_hash, DagSpec.from_dict(data))
        return {dag_id: self._specs[dag_id][1] for dag_id in hashes}

    def dag_hash(self, dag_id: str) -> str | None:
        """The hash of the DAG structure `specs()` last returned for `dag_id`."""
        return self._specs.get(dag_id, (None,))[0]

    def write_log(self, ti, lines: list[str]) -> None:
        """Append `lines` to the log of the task instance's current try once the step commits."""
        ref = SimpleNamespace(
            dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=ti.map_index, try_number=ti.try_number
        )
        self._pending_logs.append((ref, lines))

    def _write_pending_logs(self) -> None:
        pending, self._pending_logs = self._pending_logs, []
        for ref, lines in pending:
            try:
                write_try_log(self.conf, ref, lines)
            except OSError:
                log.exception("Could not write the log of %s.%s try %s", ref.dag_id, ref.task_id, ref.try_number)
