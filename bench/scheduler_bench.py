"""Scheduler throughput: queue N runs of a 5-task DAG whose tasks take no time, on a fresh SQLite
database, and time the scheduler until every run has succeeded.

    python bench/scheduler_bench.py [--runs 1000] [--max-active-runs 16] [--db sqlite|URL]

The scheduler runs in this process through the same loop `stableflow scheduler` runs (without
its idle waits, which a busy scheduler never takes), with `simulation_speed = 0`.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DAG = """\
dag_id: bench_chain
is_paused_upon_creation: false
max_active_runs: {max_active_runs}
tasks:
  - {{task_id: extract}}
  - {{task_id: validate, upstream: [extract]}}
  - {{task_id: transform, upstream: [validate]}}
  - {{task_id: load, upstream: [transform]}}
  - {{task_id: report, upstream: [load]}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--max-active-runs", type=int, default=16, help="the DAG's max_active_runs (Airflow's default: 16)")
    parser.add_argument("--db", default="sqlite", help="sqlite (a fresh file) or a database URL to reset")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="stableflow-sched-bench-"))
    os.environ["STABLEFLOW_HOME"] = str(home)
    (home / "dags").mkdir()
    (home / "dags" / "bench.yaml").write_text(DAG.format(max_active_runs=args.max_active_runs))
    url = f"sqlite:///{home}/bench.db" if args.db == "sqlite" else args.db

    from sqlalchemy import func, select

    from app import create_app, db_commands
    from app.dags.processor import process_folder
    from app.extensions import db
    from app.models import DagRun
    from app.runs import trigger_dag_run
    from app.scheduler.job import SchedulerJob
    from app.scheduler.loop import SchedulerLoop

    app = create_app(
        {
            "database": {"sql_alchemy_conn": url},
            "core": {"dags_folder": str(home / "dags"), "load_examples": False},
            "scheduler": {"simulation_speed": 0},
            "logging": {"logging_level": "WARNING"},
        },
        api=False,
    )
    conf = app.extensions["stableflow.conf"]
    with app.app_context():
        db_commands.reset() if args.db != "sqlite" else db_commands.migrate()
        process_folder(conf)
        start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        for i in range(args.runs):
            trigger_dag_run("bench_chain", run_id=f"bench_{i:05d}", logical_date=start + dt.timedelta(minutes=i))
            if i % 100 == 99:
                db.session.commit()
        db.session.commit()

        job = SchedulerJob(app)
        job.register()
        loop = SchedulerLoop(conf, job.job_id)
        began, loops = time.perf_counter(), 0
        remaining = args.runs
        while remaining:
            job.heartbeat()
            loop.run_once()
            loops += 1
            remaining = db.session.execute(select(func.count()).where(DagRun.state != "success")).scalar_one()
            db.session.rollback()
            print(f"\r{args.runs - remaining}/{args.runs} runs succeeded", end="", file=sys.stderr, flush=True)
        elapsed = time.perf_counter() - began
        dialect = db.engine.dialect.name
    print(file=sys.stderr)
    print(
        f"{args.runs} runs x 5 tasks (max_active_runs={args.max_active_runs}) on {dialect}: "
        f"{elapsed:.1f} s, {args.runs / elapsed:.1f} runs/s, {args.runs * 5 / elapsed:.0f} task instances/s, "
        f"{loops} loops"
    )


if __name__ == "__main__":
    main()
