"""Load a benchmark dataset through stableflow's own code paths.

    python -m bench.dataset [--home DIR] [--db sqlite|URL] [--dags 1000] [--runs 100000]
                            [--task-instances 1000000] [--variables 10000] [--pools 1000]
                            [--event-logs 100000]

The home gets a `stableflow.cfg` (database, DAG folder, keys, Basic auth) that the server the
HTTP bench starts reads as well, and `dataset.json` (what was loaded, ids to ask for).

- DAGs: YAML files written to the home's DAG folder and parsed by the DAG processor.
- Runs: `app.runs` builds each one (`new_dag_run`, `new_task_instances`), the state transitions
  (`mark_run_state`, `mark_ti_state`) finish them, and `insert_dag_runs` stores a DAG's runs at
  once. Every DAG's last run is still running.
- Variables as POST /variables stores them (`app.queries.upsert`), pools as POST /pools does,
  audit entries through `app.audit.record_event`, the bench user through `app.users.create_user`.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import click

BENCH_USER = "bench"
BENCH_PASSWORD = "bench-password"
DEFAULT_HOME = Path(__file__).resolve().parent / "results" / "home"
FIRST_DATE = dt.datetime(2015, 1, 1, tzinfo=dt.timezone.utc)
COMMIT_EVERY = 5000


@dataclass
class Scale:
    dags: int = 1000
    runs: int = 100_000
    task_instances: int = 1_000_000
    variables: int = 10_000
    pools: int = 1000
    event_logs: int = 100_000

    @property
    def tasks_per_dag(self) -> int:
        return max(1, self.task_instances // max(self.runs, 1))


def dag_id(i: int) -> str:
    return f"bench_dag_{i:05d}"


def variable_key(i: int) -> str:
    return f"bench_var_{i:06d}"


def run_id(logical_date: dt.datetime) -> str:
    return f"scheduled__{logical_date.isoformat()}"


def dag_file(i: int, tasks: int) -> str:
    """A DAG of `tasks` tasks in a chain, daily, paused (no scheduler should catch it up)."""
    lines = [
        f"dag_id: {dag_id(i)}",
        f"description: Benchmark DAG {i}",
        "schedule: P1D",
        f"start_date: {FIRST_DATE.date().isoformat()}",
        "catchup: false",
        "is_paused_upon_creation: true",
        f"tags: [bench, group_{i % 10}]",
        "tasks:",
    ]
    for t in range(tasks):
        upstream = f", upstream: [task_{t - 1:03d}]" if t else ""
        lines.append(f"  - {{task_id: task_{t:03d}{upstream}}}")
    return "\n".join(lines) + "\n"


def write_home(home: Path, db_url: str) -> None:
    """The home's config: what both the loader and the benchmarked server read."""
    from cryptography.fernet import Fernet

    (home / "dags").mkdir(parents=True, exist_ok=True)
    (home / "stableflow.cfg").write_text(
        "[core]\n"
        f"dags_folder = {home / 'dags'}\n"
        "load_examples = False\n"
        f"fernet_key = {Fernet.generate_key().decode()}\n"
        "[database]\n"
        f"sql_alchemy_conn = {db_url}\n"
        "[api]\n"
        "auth_backends = auth_backends.basic_auth\n"
        "[webserver]\n"
        f"secret_key = {secrets.token_urlsafe(32)}\n"
        "[logging]\n"
        "logging_level = WARNING\n"
    )


def bench_env(home: Path) -> dict[str, str]:
    """The environment of a process working on `home`: its config file only, no overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STABLEFLOW")}
    env["STABLEFLOW_HOME"] = str(home)
    return env


def _bar(length: int, label: str):
    return click.progressbar(length=length, label=label.ljust(18), file=sys.stderr, show_pos=True, width=30)


def load(home: Path, db: str, scale: Scale) -> dict:
    """Reset the database of `home` and fill it at `scale`; returns the manifest."""
    home = home.resolve()
    if (home / "dags").exists():
        shutil.rmtree(home / "dags")
    url = f"sqlite:///{home / 'stableflow.db'}" if db == "sqlite" else db
    if db == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{home / 'stableflow.db'}{suffix}").unlink(missing_ok=True)
    write_home(home, url)
    os.environ.update(bench_env(home))
    for key in [k for k in os.environ if k.startswith("STABLEFLOW__")]:
        del os.environ[key]

    from app import create_app, db_commands
    from app.extensions import db as sa

    app = create_app(api=False)
    conf = app.extensions["stableflow.conf"]
    began = time.perf_counter()
    timings = {}
    with app.app_context():
        db_commands.reset() if db != "sqlite" else db_commands.migrate()
        _load_user()
        for name, step in (
            ("dags", lambda: _load_dags(conf, home, scale)),
            ("runs", lambda: _load_runs(scale)),
            ("variables", lambda: _load_variables(scale)),
            ("pools", lambda: _load_pools(scale)),
            ("event_logs", lambda: _load_event_logs(scale)),
        ):
            started = time.perf_counter()
            step()
            sa.session.commit()
            sa.session.expunge_all()
            timings[name] = round(time.perf_counter() - started, 1)
        if sa.engine.dialect.name == "postgresql":
            with sa.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        else:
            sa.session.execute(sa.text("ANALYZE"))
            sa.session.commit()
        manifest = {
            "scale": asdict(scale),
            "database": sa.engine.dialect.name,
            "user": BENCH_USER,
            "password": BENCH_PASSWORD,
            "seconds": round(time.perf_counter() - began, 1),
            "step_seconds": timings,
            "samples": _samples(scale),
        }
    (home / "dataset.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def _load_user() -> None:
    from app.extensions import db
    from app.users import create_user

    create_user(BENCH_USER, BENCH_PASSWORD, roles=["Admin"], first_name="Bench", last_name="User")
    db.session.commit()


def _load_dags(conf, home: Path, scale: Scale) -> None:
    from app.dags.processor import process_folder

    for i in range(scale.dags):
        (home / "dags" / f"{dag_id(i)}.yaml").write_text(dag_file(i, scale.tasks_per_dag))
    with _bar(scale.dags, "DAG files") as bar:
        result = process_folder(conf, force=True, progress=bar.update)
    if result.dags != scale.dags:
        raise SystemExit(f"the DAG processor stored {result.dags} DAGs out of {scale.dags}")


def _runs_of(index: int, scale: Scale) -> int:
    return scale.runs // scale.dags + (1 if index < scale.runs % scale.dags else 0)


def _load_runs(scale: Scale) -> None:
    """Each DAG's runs, one a day; all finished but the last, which is running."""
    from app import runs
    from app.extensions import db
    from app.runs import states as S

    stored = 0
    with _bar(scale.runs, "DAG runs") as bar:
        for i in range(scale.dags):
            count = _runs_of(i, scale)
            if not count:
                continue
            spec, dag_hash = runs.triggerable_dag(dag_id(i))
            new_runs, new_tis = [], []
            for n in range(count):
                logical = FIRST_DATE + dt.timedelta(days=n)
                started = logical + dt.timedelta(days=1)
                run = runs.new_dag_run(
                    spec, dag_hash, run_id=run_id(logical), logical_date=logical, run_type="scheduled",
                    external_trigger=False, now=started,
                )
                tis = runs.new_task_instances(run, spec)
                last = n == count - 1
                runs.mark_run_state(run, S.RUNNING, started)
                for t, ti in enumerate(tis):
                    ended = started + dt.timedelta(seconds=30 * (t + 1))
                    if not last or t < len(tis) // 2:
                        ti.try_number = 1
                        runs.mark_ti_state(ti, S.RUNNING, ended - dt.timedelta(seconds=30))
                        runs.mark_ti_state(ti, S.FAILED if n % 50 == 49 and t == len(tis) - 1 else S.SUCCESS, ended)
                if not last:
                    runs.mark_run_state(run, S.FAILED if n % 50 == 49 else S.SUCCESS, ended)
                new_runs.append(run)
                new_tis.extend(tis)
            runs.insert_dag_runs(new_runs, new_tis)
            stored += count
            if stored % COMMIT_EVERY < count:
                db.session.commit()
                db.session.expunge_all()
            bar.update(count)


def _load_variables(scale: Scale) -> None:
    from app.extensions import db
    from app.models import Variable
    from app.queries import upsert

    with _bar(scale.variables, "variables") as bar:
        for i in range(scale.variables):
            upsert(Variable, {"key": variable_key(i), "val": f"value {i}", "description": f"bench {i}"}, key=["key"])
            if i % COMMIT_EVERY == COMMIT_EVERY - 1:
                db.session.commit()
            bar.update(1)


def _load_pools(scale: Scale) -> None:
    from app.extensions import db
    from app.models import Pool

    with _bar(scale.pools, "pools") as bar:
        for i in range(scale.pools):
            db.session.add(Pool(pool=f"bench_pool_{i:05d}", slots=8 + i % 64, description=f"bench {i}",
                                include_deferred=bool(i % 2)))
            bar.update(1)


def _load_event_logs(scale: Scale) -> None:
    from app.audit import record_event
    from app.extensions import db

    events = ("api.post_dag_run", "api.patch_dag", "api.variable.edit", "api.post_pool", "cli_task_run")
    with _bar(scale.event_logs, "event logs") as bar:
        for i in range(scale.event_logs):
            dag = dag_id(i % scale.dags) if scale.dags and i % 3 else None
            record_event(events[i % len(events)], dag_id=dag, owner=BENCH_USER, owner_display_name="Bench User",
                         extra={"n": i}, commit=False)
            if i % COMMIT_EVERY == COMMIT_EVERY - 1:
                db.session.commit()
                db.session.expunge_all()
            bar.update(1)


def _samples(scale: Scale) -> dict:
    """Ids the HTTP bench asks for: DAGs that have runs, one run of each, variables."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import DagRun

    dag_ids = [dag_id(i) for i in range(min(scale.dags, 50)) if _runs_of(i, scale)]
    wanted = {d: FIRST_DATE for d in dag_ids}
    found = dict(db.session.execute(
        select(DagRun.dag_id, DagRun.run_id).where(DagRun.dag_id.in_(dag_ids), DagRun.execution_date == FIRST_DATE)
    ).all())
    return {
        "dag_ids": dag_ids,
        "runs": [[d, found[d]] for d in wanted if d in found],
        "variable_keys": [variable_key(i) for i in range(0, scale.variables, max(1, scale.variables // 50))],
    }


def load_in_subprocess(home: Path, db: str, scale: Scale) -> None:
    """`load` in a process of its own (it configures the process for one home)."""
    import subprocess

    options = [f"--{name.replace('_', '-')}={value}" for name, value in asdict(scale).items()]
    subprocess.run([sys.executable, "-m", "bench.dataset", "--home", str(home), "--db", db, *options],
                   check=True, cwd=Path(__file__).resolve().parent.parent, env=bench_env(home))


def main(argv: list[str] | None = None) -> None:
    defaults = Scale()
    parser = argparse.ArgumentParser(description="Load a stableflow benchmark dataset.")
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help=f"STABLEFLOW_HOME to fill (default {DEFAULT_HOME})")
    parser.add_argument("--db", default="sqlite", help="sqlite (a fresh file in the home) or a database URL to reset")
    for name, value in asdict(defaults).items():
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=value)
    args = parser.parse_args(argv)
    scale = Scale(**{name: getattr(args, name) for name in asdict(defaults)})
    manifest = load(args.home, args.db, scale)
    print(
        f"Loaded {scale.dags} DAGs, {scale.runs} runs, {scale.runs * scale.tasks_per_dag} task instances, "
        f"{scale.variables} variables, {scale.pools} pools, {scale.event_logs} audit entries on "
        f"{manifest['database']} in {manifest['seconds']} s ({manifest['step_seconds']}); home {args.home.resolve()}"
    )


if __name__ == "__main__":
    main()
