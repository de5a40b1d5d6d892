"""What the API and the CLI do to DAGs: find those of a file, pause, unpause, delete."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, exists, or_, select, update

from app.extensions import db
from app.models import (
    Base,
    DagCode,
    DagModel,
    DagScheduleDatasetReference,
    DatasetDagRunQueue,
    EventLog,
    ImportErrorRecord,
    TaskInstance,
    TaskOutletDatasetReference,
)


class DagNotFound(LookupError):
    pass


class DagHasRunningTasks(RuntimeError):
    pass


def dag_ids_in_file(fileloc: str) -> list[str]:
    return list(db.session.execute(select(DagModel.dag_id).where(DagModel.fileloc == fileloc)).scalars())


def set_paused(dag_ids: Iterable[str], paused: bool) -> None:
    ids = list(dag_ids)
    if ids:
        db.session.execute(
            update(DagModel).where(DagModel.dag_id.in_(ids)).values(is_paused=paused),
            execution_options={"synchronize_session": "fetch"},
        )


def delete_dag(dag_id: str) -> None:
    """Delete a DAG's metadata and runs, keeping the audit log (as Airflow does); no commit.

    The file is parsed again on the next pass, so a DAG whose file still exists comes back.
    """
    running = select(TaskInstance.id).where(TaskInstance.dag_id == dag_id, TaskInstance.state == "running")
    if db.session.execute(select(exists(running))).scalar():
        raise DagHasRunningTasks(dag_id)
    found = db.session.execute(select(DagModel.fileloc).where(DagModel.dag_id == dag_id)).first()
    if found is None:
        raise DagNotFound(dag_id)
    fileloc = found.fileloc
    dataset_ids = _referenced_datasets(dag_id)
    db.session.execute(delete(DatasetDagRunQueue).where(DatasetDagRunQueue.target_dag_id == dag_id))
    # Every table with a dag_id column, children before parents, except the audit log.
    for table in reversed(Base.metadata.sorted_tables):
        if "dag_id" in table.c and table is not EventLog.__table__:
            db.session.execute(delete(table).where(table.c.dag_id == dag_id))
    if fileloc:
        db.session.execute(delete(ImportErrorRecord).where(ImportErrorRecord.filename == fileloc))
        db.session.execute(update(DagCode).where(DagCode.fileloc == fileloc).values(source_hash=None))
    mark_orphans(dataset_ids)


def _referenced_datasets(dag_id: str) -> set[int]:
    rows = db.session.execute(
        select(DagScheduleDatasetReference.dataset_id).where(DagScheduleDatasetReference.dag_id == dag_id).union(
            select(TaskOutletDatasetReference.dataset_id).where(TaskOutletDatasetReference.dag_id == dag_id)
        )
    )
    return set(rows.scalars())


def mark_orphans(dataset_ids: Iterable[int]) -> None:
    """Flag the datasets no DAG schedules on and no task produces any more, and unflag the others."""
    from app.models import Dataset

    ids = sorted(dataset_ids)
    if not ids:
        return
    referenced = or_(
        exists().where(DagScheduleDatasetReference.dataset_id == Dataset.id),
        exists().where(TaskOutletDatasetReference.dataset_id == Dataset.id),
    )
    db.session.execute(
        update(Dataset).where(Dataset.id.in_(ids)).values(is_orphaned=~referenced),
        execution_options={"synchronize_session": False},
    )
