"""Crash safety, on the backend of the test run.

- A live server (master and workers) killed with SIGKILL in the middle of a write load keeps
  every write it acknowledged, and starts again cleanly on the same database.
- A scheduler killed with SIGKILL while tries run leaves no task instance stuck: a new scheduler
  adopts the dead one's tries after `[scheduler] scheduler_zombie_task_threshold` and every run
  finishes.
- Durability beyond a process crash (power loss) is configuration: SQLite runs in WAL mode with
  `synchronous=FULL`, so a commit is on disk before it is acknowledged; PostgreSQL acknowledges a
  commit once its WAL is flushed (`synchronous_commit`).
"""
from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.extensions import db
from tests.live import live_database_url, live_server, stop_process

ROOT = Path(__file__).resolve().parents[2]
STABLEFLOW = str(Path(sys.executable).with_name("stableflow"))
WRITERS = 8
LOAD_SECONDS = 3.0


def test_commits_are_durable_before_they_are_acknowledged(app):
    with app.app_context():
        with db.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            else:
                assert conn.execute(text("SHOW synchronous_commit")).scalar() in ("on", "remote_apply", "remote_write")


# kind -> (create path, read path, field checked on read, body for a name and a number)
KINDS = [
    ("variable", "/variables", "/variables/{}", "value", lambda name, n: {"key": name, "value": f"value of {name}"}),
    ("pool", "/pools", "/pools/{}", "slots", lambda name, n: {"name": name, "slots": n}),
    ("connection", "/connections", "/connections/{}", "host",
     lambda name, n: {"connection_id": name, "conn_type": "http", "host": f"{name}.example"}),
    ("dag_run", "/dags/pipeline/dagRuns", "/dags/pipeline/dagRuns/{}", "conf",
     lambda name, n: {"dag_run_id": name, "conf": {"n": n}}),
]


@dataclass
class WriteLoad:
    """Writers that create resources with unique ids until the server goes away."""

    server: object
    acknowledged: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, writer: int) -> None:
        with self.server.session() as session:
            for n in itertools.count():
                if self.stop.is_set():
                    return
                kind, create, read, checked, make_body = KINDS[n % len(KINDS)]
                name = f"crash-{writer}-{n}"
                body = make_body(name, n)
                try:
                    response = session.post(self.server.api + create, json=body, timeout=10)
                except requests.RequestException:
                    return  # the server is gone: the outcome of this write is unknown, not acknowledged
                with self.lock:
                    if response.status_code == 200:
                        self.acknowledged.append((read.format(name), checked, body[checked]))
                    else:
                        self.refused.append((response.status_code, response.text[:300]))


def is_stored(session, api: str, read: str, checked: str, value) -> bool:
    response = session.get(api + read, timeout=10)
    return response.status_code == 200 and response.json()[checked] == value


def test_sigkill_during_a_write_load_loses_no_acknowledged_write(tmp_path):
    home = tmp_path / "home"
    with live_server(home, db_url=live_database_url("crash"), workers=4, API__MAX_FAILED_LOGINS="0") as server:
        subprocess.run([sys.executable, "-m", "tests.reliability.seed_live"], env=server.env, cwd=ROOT,
                       check=True, timeout=120, capture_output=True)
        load = WriteLoad(server)
        writers = [threading.Thread(target=load.run, args=(i,)) for i in range(WRITERS)]
        for thread in writers:
            thread.start()
        time.sleep(LOAD_SECONDS)
        server.kill()  # SIGKILL to gunicorn's whole process group, mid-write
        load.stop.set()
        for thread in writers:
            thread.join(timeout=30)
        acknowledged = list(load.acknowledged)

        server.start(workers=4)
        with server.session() as session:
            lost = [write for write in acknowledged if not is_stored(session, server.api, *write)]
            after = session.post(server.api + "/variables", json={"key": "after-restart", "value": "ok"}, timeout=10)
        print(f"crash: {len(acknowledged)} writes acknowledged, {len(lost)} lost")
        assert len(acknowledged) > 50
        assert load.refused == []  # no "database is locked", no 5xx, while the server was up
        assert lost == []
        assert after.status_code == 200
    if make_url(server.env["STABLEFLOW__DATABASE__SQL_ALCHEMY_CONN"]).get_backend_name() == "sqlite":
        with sqlite3.connect(home / "live.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


SLOW_DAG = """\
dag_id: slow
max_active_runs: 10
tasks:
  - {task_id: first, duration: [0.5, 1]}
  - {task_id: middle, upstream: [first], expand: {n: [1, 2, 3]}, duration: [2, 3]}
  - {task_id: last, upstream: [middle], duration: [0.5, 1]}
"""


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_a_killed_scheduler_leaves_no_task_stuck(tmp_path):
    home = tmp_path / "home"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "slow.yaml").write_text(SLOW_DAG)
    with live_server(home, db_url=live_database_url("scheduler_kill"), workers=1, API__MAX_FAILED_LOGINS="0",
                     SCHEDULER__SCHEDULER_HEARTBEAT_SEC="0.2", SCHEDULER__SCHEDULER_ZOMBIE_TASK_THRESHOLD="2",
                     SCHEDULER__DAG_DIR_LIST_INTERVAL="1") as server:
        api, session = server.api, server.session()

        def start_scheduler(name: str) -> subprocess.Popen:
            with open(home / f"{name}.log", "wb") as output:
                process = subprocess.Popen([STABLEFLOW, "scheduler"], env=server.env, stdout=output, stderr=output)
            server.extra_processes.append(process)
            return process

        first = start_scheduler("scheduler-1")
        wait_for(lambda: session.get(f"{api}/dags/slow", timeout=5).status_code == 200, 60, "the DAG to be parsed")
        assert session.patch(f"{api}/dags/slow", json={"is_paused": False}, timeout=10).status_code == 200
        run_ids = [f"run_{i}" for i in range(5)]
        for run_id in run_ids:
            assert session.post(f"{api}/dags/slow/dagRuns", json={"dag_run_id": run_id}, timeout=10).status_code == 200

        def states() -> list[str]:
            body = session.get(f"{api}/dags/slow/dagRuns/~/taskInstances", params={"limit": 1000}, timeout=10).json()
            return [ti["state"] for ti in body["task_instances"]]

        wait_for(lambda: states().count("running") >= 3, 60, "tries to run")
        first.kill()
        first.wait(timeout=10)
        assert "running" in states()

        second = start_scheduler("scheduler-2")

        def finished() -> bool:
            runs = session.get(f"{api}/dags/slow/dagRuns", timeout=10).json()["dag_runs"]
            return all(run["state"] in ("success", "failed") for run in runs)

        wait_for(finished, 120, "every run to finish after the restart")
        runs = session.get(f"{api}/dags/slow/dagRuns", timeout=10).json()["dag_runs"]
        assert {run["dag_run_id"]: run["state"] for run in runs} == dict.fromkeys(run_ids, "success")
        assert set(states()) == {"success"}
        stop_process(second)
        assert second.returncode == 0
