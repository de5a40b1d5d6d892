"""The DAG processor: rows, structures, sources, datasets, errors and warnings from the folder."""
from __future__ import annotations

import datetime as dt
import textwrap
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from app.config import load_config
from app.dags import processor
from app.dags.structure import load_dag_spec
from app.extensions import db
from app.models import (
    DagCode,
    DagModel,
    DagPriorityParsingRequest,
    DagRun,
    DagWarning,
    Dataset,
    ImportErrorRecord,
    Pool,
    SerializedDag,
)
from tests.conftest import base_overrides, count_queries

UTC = dt.timezone.utc


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "dags"
    path.mkdir()
    return path


@pytest.fixture
def conf(folder):
    return load_config(base_overrides(core={"dags_folder": str(folder)}))


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return str(path.resolve())


def dag_row(dag_id: str) -> DagModel:
    return db.session.get(DagModel, dag_id)


def dag_rows() -> dict[str, tuple]:
    db.session.expire_all()
    return {
        d.dag_id: (d.is_active, d.is_paused, d.has_import_errors)
        for d in db.session.execute(select(DagModel)).scalars()
    }


def import_errors() -> dict[str, str]:
    return dict(db.session.execute(select(ImportErrorRecord.filename, ImportErrorRecord.stack_trace)).all())


DAILY = """\
dag_id: daily
description: Once a day
schedule: "@daily"
start_date: 2024-01-01
catchup: false
tags: [b, a]
owners: [alice, bob]
max_active_runs: 3
tasks:
  - task_id: produce
    outlets: [s3://bucket/data]
  - task_id: report
    upstream: [produce]
    pool: reports
"""
CONSUMER = """\
dag_id: consumer
schedule: {datasets: ['s3://bucket/data']}
is_paused_upon_creation: false
tasks: [{task_id: use}]
"""


def test_folder_becomes_rows(app_ctx, folder, conf):
    daily = write(folder, "daily.yaml", DAILY)
    consumer = write(folder, "sub/consumer.yml", CONSUMER)
    write(folder, ".hidden/skipped.yaml", "dag_id: hidden\n")
    write(folder, "notes.txt", "dag_id: not_yaml\n")
    before = dt.datetime.now(UTC)
    result = processor.process_folder(conf)
    assert (result.files_parsed, result.files_unchanged, result.dags, result.import_errors) == (2, 0, 2, 0)

    row = dag_row("daily")
    assert (row.fileloc, row.is_active, row.is_paused, row.has_import_errors, row.owners, row.description) == (
        daily, True, True, False, "alice,bob", "Once a day"
    )
    assert [t.name for t in row.tags] == ["a", "b"]
    assert (row.schedule_interval, row.timetable_description, row.max_active_runs, row.max_active_tasks) == (
        {"__type": "CronExpression", "value": "@daily"}, "At 00:00", 3, 16
    )
    assert row.last_parsed_time >= before
    # catchup is off: the next run is the latest complete day.
    today = dt.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert (row.next_dagrun, row.next_dagrun_data_interval_start, row.next_dagrun_data_interval_end, row.next_dagrun_create_after) == (
        today - dt.timedelta(days=1), today - dt.timedelta(days=1), today, today
    )
    consumer_row = dag_row("consumer")
    assert (consumer_row.fileloc, consumer_row.is_paused, consumer_row.next_dagrun, consumer_row.dataset_expression) == (
        consumer, False, None, {"all": ["s3://bucket/data"]}
    )

    spec = load_dag_spec("daily")
    assert (spec.fileloc, spec.task_ids, spec.tasks[0].downstream) == (daily, ["produce", "report"], ["report"])
    assert db.session.get(SerializedDag, "daily").dag_hash
    code = db.session.get(DagCode, daily)
    assert code.source_code == DAILY
    assert len(code.source_hash) == 64

    dataset = db.session.execute(select(Dataset)).scalar_one()
    assert (dataset.uri, dataset.is_orphaned) == ("s3://bucket/data", False)
    assert [(r.dag_id, r.task_id) for r in dataset.producing_tasks] == [("daily", "produce")]
    assert [r.dag_id for r in dataset.consuming_dags] == ["consumer"]

    warnings = [(w.dag_id, w.warning_type, w.message) for w in db.session.execute(select(DagWarning)).scalars()]
    assert warnings == [("daily", "non-existent pool", "Dag 'daily' references non-existent pools: ['reports']")]
    assert import_errors() == {}


def test_unchanged_files_are_not_parsed_again(app_ctx, folder, conf, monkeypatch):
    write(folder, "daily.yaml", DAILY)
    write(folder, "consumer.yaml", CONSUMER)
    processor.process_folder(conf)
    parsed = []
    real = processor.parse_source
    monkeypatch.setattr(processor, "parse_source", lambda text, fileloc, d: parsed.append(fileloc) or real(text, fileloc, d))
    write(folder, "consumer.yaml", CONSUMER.replace("tasks: [{task_id: use}]", "tasks: [{task_id: use2}]"))
    result = processor.process_folder(conf)
    assert (result.files_parsed, result.files_unchanged) == (1, 1)
    assert parsed == [str((folder / "consumer.yaml").resolve())]
    assert load_dag_spec("consumer").task_ids == ["use2"]
    assert processor.process_folder(conf, force=True).files_parsed == 2


def test_changed_file_updates_everything_but_the_pause_state(app_ctx, folder, conf):
    write(folder, "daily.yaml", DAILY)
    processor.process_folder(conf)
    dag_row("daily").is_paused = False
    db.session.commit()
    write(
        folder,
        "daily.yaml",
        DAILY.replace("tags: [b, a]", "tags: [c]").replace("s3://bucket/data", "s3://bucket/other").replace(
            "pool: reports", "pool: default_pool"
        ),
    )
    processor.process_folder(conf)
    db.session.expire_all()
    row = dag_row("daily")
    assert (row.is_paused, [t.name for t in row.tags]) == (False, ["c"])
    datasets = {d.uri: (d.is_orphaned, [(r.dag_id, r.task_id) for r in d.producing_tasks]) for d in db.session.execute(select(Dataset)).scalars()}
    assert datasets == {"s3://bucket/data": (True, []), "s3://bucket/other": (False, [("daily", "produce")])}
    assert db.session.execute(select(DagWarning)).scalars().all() == []


def test_removed_file_deactivates_its_dags(app_ctx, folder, conf):
    path = write(folder, "daily.yaml", DAILY)
    write(folder, "consumer.yaml", CONSUMER)
    processor.process_folder(conf)
    Path(path).unlink()
    result = processor.process_folder(conf)
    assert (result.files_removed, result.deactivated) == (1, 1)
    assert dag_rows() == {"daily": (False, True, False), "consumer": (True, False, False)}
    assert db.session.get(DagCode, path) is None
    assert db.session.execute(select(DagWarning)).scalars().all() == []
    # The file comes back: so does the DAG.
    write(folder, "daily.yaml", DAILY)
    processor.process_folder(conf)
    assert dag_rows()["daily"] == (True, True, False)


def test_dag_no_longer_defined_by_its_file_becomes_inactive(app_ctx, folder, conf):
    write(folder, "two.yaml", "dags:\n  - {dag_id: one}\n  - {dag_id: two}\n")
    processor.process_folder(conf)
    write(folder, "two.yaml", "dags:\n  - {dag_id: one}\n")
    assert processor.process_folder(conf).deactivated == 1
    assert dag_rows() == {"one": (True, True, False), "two": (False, True, False)}


def test_import_errors_are_stored_per_file_and_cleared_when_fixed(app_ctx, folder, conf):
    write(folder, "good.yaml", "dag_id: good\n")
    mixed = write(folder, "mixed.yaml", "dags:\n  - {dag_id: fine}\n  - {dag_id: broken, catchup: maybe}\n")
    syntax = write(folder, "syntax.yaml", "dag_id: [\n")
    result = processor.process_folder(conf)
    assert (result.files_parsed, result.dags, result.import_errors) == (3, 2, 2)
    assert import_errors() == {
        mixed: f"{mixed}:3: DAG 'broken': 'catchup' must be true or false, not 'maybe'",
        syntax: f"{syntax}:2: YAML syntax error: while parsing a flow node expected the node content, but found '<stream end>'",
    }
    # The file's other DAGs load, flagged as coming from a file with errors.
    assert dag_rows() == {"good": (True, True, False), "fine": (True, True, True)}
    first_id = db.session.execute(select(ImportErrorRecord.id).where(ImportErrorRecord.filename == mixed)).scalar()

    write(folder, "mixed.yaml", "dags:\n  - {dag_id: fine}\n  - {dag_id: broken, catchup: true}\n")
    write(folder, "syntax.yaml", "dag_id: [1\n")
    processor.process_folder(conf)
    assert list(import_errors()) == [syntax]
    assert db.session.execute(select(ImportErrorRecord.id).where(ImportErrorRecord.filename == mixed)).scalar() is None
    assert dag_rows() == {"good": (True, True, False), "fine": (True, True, False), "broken": (True, True, False)}
    assert first_id is not None

    # A file that breaks altogether takes its DAGs out until it is fixed.
    write(folder, "mixed.yaml", "dags: [\n")
    processor.process_folder(conf)
    assert dag_rows()["fine"] == (False, True, True)
    # A removed file takes its error with it.
    Path(syntax).unlink()
    processor.process_folder(conf)
    assert list(import_errors()) == [mixed]


def test_a_dag_id_defined_by_two_files_stays_with_the_first(app_ctx, folder, conf):
    first = write(folder, "a.yaml", "dag_id: shared\ndescription: first\n")
    processor.process_folder(conf)
    second = write(folder, "b.yaml", "dag_id: shared\ndescription: second\n")
    processor.process_folder(conf)
    assert (dag_row("shared").fileloc, dag_row("shared").description) == (first, "first")
    assert import_errors() == {
        second: f"{second}:1: DAG id 'shared' is already defined in {first}; this definition is ignored"
    }
    Path(first).unlink()
    processor.process_folder(conf)
    db.session.expire_all()
    assert (dag_row("shared").fileloc, dag_row("shared").is_active, dag_row("shared").description) == (
        second, True, "second"
    )
    assert import_errors() == {}


def test_pool_warnings_follow_the_pools(app_ctx, folder, conf):
    write(folder, "daily.yaml", DAILY)
    processor.process_folder(conf)
    assert [w.dag_id for w in db.session.execute(select(DagWarning)).scalars()] == ["daily"]
    db.session.add(Pool(pool="reports", slots=1))
    db.session.commit()
    processor.process_folder(conf)
    assert db.session.execute(select(DagWarning)).scalars().all() == []


def test_next_run_follows_the_latest_scheduled_run(app_ctx, folder, conf):
    write(folder, "catchup.yaml", "dag_id: c\nschedule: '@daily'\nstart_date: 2024-01-01\n")
    processor.process_folder(conf)
    assert dag_row("c").next_dagrun == dt.datetime(2024, 1, 1, tzinfo=UTC)
    day = dt.datetime(2024, 1, 5, tzinfo=UTC)
    db.session.add_all([
        DagRun(dag_id="c", run_id="scheduled__5", execution_date=day, run_type="scheduled",
               data_interval_start=day, data_interval_end=day + dt.timedelta(days=1)),
        DagRun(dag_id="c", run_id="manual__9", execution_date=day + dt.timedelta(days=4), run_type="manual"),
    ])
    db.session.commit()
    processor.process_folder(conf, force=True)
    db.session.expire_all()
    row = dag_row("c")
    assert (row.next_dagrun, row.next_dagrun_create_after) == (
        dt.datetime(2024, 1, 6, tzinfo=UTC), dt.datetime(2024, 1, 7, tzinfo=UTC)
    )


def test_process_file_and_priority_requests(app_ctx, folder, conf):
    path = write(folder, "daily.yaml", DAILY)
    processor.process_folder(conf)
    write(folder, "daily.yaml", DAILY.replace("Once a day", "Changed"))
    processor.process_file(conf, path)
    assert dag_row("daily").description == "Changed"

    write(folder, "daily.yaml", DAILY.replace("Once a day", "Asked for"))
    db.session.add(DagPriorityParsingRequest(fileloc=path))
    db.session.commit()
    result = processor.process_priority_requests(conf)
    assert result.files_parsed == 1
    db.session.expire_all()
    assert dag_row("daily").description == "Asked for"
    assert db.session.execute(select(DagPriorityParsingRequest)).scalars().all() == []
    assert processor.process_priority_requests(conf).files_parsed == 0

    # A file outside the DAG folders counts as gone.
    processor.process_file(conf, "/elsewhere/daily.yaml")
    Path(path).unlink()
    processor.process_file(conf, path)
    assert dag_rows()["daily"][0] is False


def _many(folder: Path, count: int) -> None:
    for n in range(count):
        write(folder, f"dag_{n:04d}.yaml", f"dag_id: dag_{n}\ntags: [t{n % 3}]\nschedule: '@daily'\nstart_date: 2024-01-01\n"
              f"tasks:\n  - task_id: a\n    outlets: ['s3://b/{n}']\n  - {{task_id: b, upstream: a}}\n")


def test_query_count_does_not_grow_with_the_folder(app, tmp_path, request):
    from app.snapshot import restore_snapshot

    snapshot = request.getfixturevalue("_seed_snapshot")
    counts = []
    for size in (20, 120):
        folder = tmp_path / f"dags{size}"
        folder.mkdir()
        _many(folder, size)
        conf = load_config(base_overrides(core={"dags_folder": str(folder)}))
        with app.app_context():
            restore_snapshot(db.engine, snapshot)
            with count_queries(app) as counter:
                result = processor.process_folder(conf)
            assert result.dags == size
            db.session.remove()
        counts.append(counter.count)
    assert counts[0] == counts[1]


def _in_thread(app, fn):
    """Run fn() in a thread with an app context (its own database session); return the thread."""
    errors: list[BaseException] = []

    def target():
        with app.app_context():
            try:
                fn()
            except BaseException as exc:  # handed to the test
                errors.append(exc)
            finally:
                db.session.remove()

    thread = threading.Thread(target=target)
    thread.errors = errors
    thread.start()
    return thread


def test_two_processors_at_once_do_not_collide(app, app_ctx, folder, conf):
    for n in range(20):
        write(folder, f"d{n}.yaml", f"dag_id: d{n}\ntasks: [{{task_id: t}}]\n")
    threads = [_in_thread(app, lambda: processor.process_folder(conf, force=True)) for _ in range(3)]
    for thread in threads:
        thread.join(60)
        assert thread.errors == []
    assert set(dag_rows()) == {f"d{n}" for n in range(20)}


def test_a_periodic_pass_skips_while_another_processor_works_and_an_explicit_one_waits(app, app_ctx, folder, conf):
    write(folder, "daily.yaml", DAILY)
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock():
        with processor._exclusive(wait=True):
            holding.set()
            release.wait(30)
            db.session.commit()

    holder = _in_thread(app, hold_the_lock)
    assert holding.wait(30)
    assert processor.process_folder(conf, wait=False).skipped
    assert dag_rows() == {}
    threading.Timer(0.3, release.set).start()
    assert not processor.process_folder(conf).skipped
    holder.join(30)
    assert holder.errors == []
    assert set(dag_rows()) == {"daily"}
