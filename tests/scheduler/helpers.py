"""A scheduler driven loop by loop in the test process, on a clock the test moves."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app import runs
from app.extensions import db
from app.models import DagModel, DagRun, EventLog, Pool, TaskInstance
from app.scheduler.job import SchedulerJob
from app.scheduler.loop import SchedulerLoop

UTC = dt.timezone.utc


class Clock:
    def __init__(self):
        self.now = dt.datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class Scheduler:
    """Parses DAG files, triggers runs and runs scheduler loops in the test's app context."""

    def __init__(self, app, folder):
        self.app = app
        self.folder = folder
        self.conf = app.extensions["stableflow.conf"]
        self.clock = Clock()
        self.job_id = SchedulerJob(app).register()
        self.loop = self.new_loop(self.job_id)

    def new_loop(self, job_id: int, *, speed: float = 0) -> SchedulerLoop:
        loop = SchedulerLoop(self.conf, job_id, clock=self.clock)
        loop.speed = speed
        return loop

    def dags(self, unpause: bool = True, **files: str) -> None:
        """Write and parse DAG files (`name=yaml`); their DAGs are unpaused unless told otherwise."""
        self.folder.process(**files)
        if unpause:
            db.session.execute(update(DagModel).values(is_paused=False))
            db.session.commit()

    def trigger(self, dag_id: str, run_id: str = "r1", **kwargs) -> None:
        kwargs.setdefault("now", self.clock())
        kwargs.setdefault("logical_date", self.clock())
        runs.trigger_dag_run(dag_id, run_id=run_id, **kwargs)
        db.session.commit()

    def run(self, loops: int = 1) -> None:
        for _ in range(loops):
            self.loop.run_once()

    def run_until_idle(self, max_loops: int = 50) -> int:
        """Loop until a loop changes nothing; returns the number of loops."""
        for count in range(1, max_loops + 1):
            if not self.loop.run_once():
                return count
        raise AssertionError(f"the scheduler was still busy after {max_loops} loops")

    def states(self, run_id: str = "r1", dag_id: str | None = None) -> dict[str, str | None]:
        """`task_id` (or `task_id[map_index]`) -> state, for one run."""
        return {key: state for key, (state, _) in self.tis(run_id, dag_id).items()}

    def tis(self, run_id: str = "r1", dag_id: str | None = None) -> dict[str, tuple[str | None, int]]:
        stmt = select(TaskInstance).where(TaskInstance.run_id == run_id)
        if dag_id is not None:
            stmt = stmt.where(TaskInstance.dag_id == dag_id)
        return {
            (ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): (ti.state, ti.try_number)
            for ti in db.session.execute(stmt.execution_options(populate_existing=True)).scalars()
        }

    def ti(self, task_id: str, run_id: str = "r1", map_index: int = -1) -> TaskInstance:
        return db.session.execute(
            select(TaskInstance)
            .where(TaskInstance.run_id == run_id, TaskInstance.task_id == task_id, TaskInstance.map_index == map_index)
            .execution_options(populate_existing=True)
        ).scalar_one()

    def run_row(self, run_id: str = "r1") -> DagRun:
        return db.session.execute(
            select(DagRun).where(DagRun.run_id == run_id).execution_options(populate_existing=True)
        ).scalar_one()

    def run_states(self) -> dict[str, str]:
        return dict(db.session.execute(select(DagRun.run_id, DagRun.state).order_by(DagRun.run_id)).all())

    def events(self) -> list[tuple]:
        """(event, task_id, map_index, try_number) of the run and task events, in order."""
        rows = db.session.execute(
            select(EventLog.event, EventLog.task_id, EventLog.map_index, EventLog.try_number)
            .where(~EventLog.event.startswith("api."))
            .order_by(EventLog.id)
        )
        return [tuple(row) for row in rows]

    def pool(self, name: str, slots: int) -> None:
        db.session.add(Pool(pool=name, slots=slots, description=name))
        db.session.commit()

    def log_text(self, task_id: str, try_number: int = 1, run_id: str = "r1", dag_id: str = "d", map_index: int = -1) -> str:
        from app.runs.logs import try_log_path

        return try_log_path(self.conf, dag_id, run_id, task_id, map_index, try_number).read_text()


@pytest.fixture
def scheduler(app, dag_folder):
    logs = Path(app.extensions["stableflow.conf"].get("logging", "base_log_folder"))
    shutil.rmtree(logs, ignore_errors=True)
    with app.app_context():
        yield Scheduler(app, dag_folder)
        db.session.remove()
