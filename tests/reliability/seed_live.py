"""Seed a live server's database with a little of everything, so that fuzzed and stateful calls find
real DAGs, runs, task instances (mapped too), tries, logs, XComs, datasets and their events,
queued events, an import error, pools, variables, connections and users.

Run as `python -m tests.reliability.seed_live` in the server's environment (STABLEFLOW_HOME and
STABLEFLOW__* variables). Importing this module has no side effects, and it never imports
tests.conftest (which rewrites the environment).
"""
from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

UTC = dt.timezone.utc
DAG_FILES = {
    "pipeline.yaml": """\
        dag_id: pipeline
        schedule: "@daily"
        start_date: 2024-01-01
        tags: [etl, fuzz]
        params: {n: {default: 1, type: integer, minimum: 1}}
        tasks:
          - {task_id: extract, priority_weight: 2, outlets: ["s3://fuzz/extracted"]}
          - {task_id: transform, upstream: [extract], expand: {x: [1, 2, 3]}}
          - {task_id: load, upstream: [transform], retries: 2}
        """,
    "consumer.yaml": """\
        dag_id: consumer
        schedule: {datasets: ["s3://fuzz/extracted"]}
        start_date: 2024-01-01
        tasks: [{task_id: consume}]
        """,
    "broken.yaml": "dag_id: [this is not\n",
}
# (dag_id, run_id, day of January 2024, task states to play: task_id -> (state, map_indexes))
RUNS = [
    ("pipeline", "manual_1", 2, {"extract": "success", "transform": "success", "load": "failed"}),
    ("pipeline", "manual_2", 3, {"extract": "success", "transform": "running"}),
    ("pipeline", "manual_3", 4, {}),
    ("consumer", "manual_1", 2, {"consume": "success"}),
]


def write_dag_files(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in DAG_FILES.items():
        (folder / name).write_text(textwrap.dedent(text))


def _play(conf, ti, state: str, when: dt.datetime) -> None:
    from app import runs
    from app.runs.logs import format_log_line, write_try_log

    runs.mark_scheduled(ti)
    runs.mark_running(ti, when, hostname="fuzz-worker", pid=4242)
    write_try_log(conf, ti, [format_log_line(f"{ti.task_id} try {ti.try_number}", when=when)])
    if state != "running":
        runs.mark_ti_state(ti, state, when + dt.timedelta(seconds=5))


def seed_runs(conf) -> None:
    from sqlalchemy import select

    from app import runs
    from app.extensions import db
    from app.models import DatasetDagRunQueue, TaskInstance, XCom

    for dag_id, run_id, day, states in RUNS:
        when = dt.datetime(2024, 1, day, tzinfo=UTC)
        run = runs.trigger_dag_run(dag_id, run_id=run_id, logical_date=when, note=f"seeded {run_id}")
        db.session.flush()
        tis = db.session.execute(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
        ).scalars()
        for ti in tis:
            state = states.get(ti.task_id)
            if state is None:
                continue
            _play(conf, ti, state, when)
            db.session.add(
                XCom(dag_id=dag_id, run_id=run.run_id, task_id=ti.task_id, map_index=ti.map_index,
                     key="return_value", value=json.dumps({"rows": 3, "task": ti.task_id}), timestamp=when)
            )
            if ti.task_id == "extract":
                runs.register_outlet_events(ti, ["s3://fuzz/extracted"], now=when)
    dataset = runs.dataset_by_uri("s3://fuzz/extracted")
    if dataset is not None:
        db.session.add(DatasetDagRunQueue(dataset_id=dataset.id, target_dag_id="consumer",
                                          created_at=dt.datetime(2024, 1, 5, tzinfo=UTC)))
    db.session.commit()


def seed_resources() -> None:
    from app.extensions import db
    from app.models import Pool, Variable
    from app.users import create_user

    db.session.add_all([
        Pool(pool="fuzz_pool", slots=4, description="seeded", include_deferred=False),
        Variable(key="fuzz_var", val="v1", description="seeded"),
    ])
    create_user("fuzz_viewer", "fuzz-viewer-password", roles=["Viewer"], email="fuzz_viewer@example.com")
    db.session.commit()


def seed_connection(conf) -> None:
    from app.connections import assign
    from app.extensions import db
    from app.models import Connection

    conn = Connection()
    assign(conn, {"connection_id": "fuzz_conn", "conn_type": "postgres", "host": "db.example",
                  "login": "fuzz", "password": "fuzz-conn-password", "port": 5432,
                  "extra": json.dumps({"sslmode": "require"})}, conf)
    db.session.add(conn)
    db.session.commit()


def main() -> None:
    from app.cli import app_context
    from app.dags import processor

    with app_context() as app:
        conf = app.extensions["stableflow.conf"]
        write_dag_files(Path(conf.get("core", "dags_folder")))
        processor.process_folder(conf)
        seed_runs(conf)
        seed_resources()
        seed_connection(conf)


if __name__ == "__main__":
    main()
