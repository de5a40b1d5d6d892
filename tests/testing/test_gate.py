"""The gate that holds a SQLite scheduler between two loops while another process restores a
snapshot (the pytest plugin's reset). POSIX locks work between processes: the holder runs in a
child process."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import create_engine

from app.scheduler.gate import LoopGate, sqlite_database

HOLDER = textwrap.dedent("""\
    import sys, time
    from app.scheduler.gate import hold_scheduler
    print("ready", flush=True)
    started = time.monotonic()
    with hold_scheduler(sys.argv[1]):
        print(f"held after {time.monotonic() - started:.3f}", flush=True)
        time.sleep(float(sys.argv[2]))
    """)


def holder(database, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, database, str(seconds)], stdout=subprocess.PIPE, text=True
    )


def test_no_loop_starts_while_a_holder_keeps_the_gate(tmp_path):
    database = str(tmp_path / "s.db")
    gate = LoopGate(create_engine(f"sqlite:///{database}"))
    child = holder(database, 0.5)
    assert child.stdout.readline() == "ready\n"
    assert child.stdout.readline().startswith("held after")
    started = time.monotonic()
    with gate.loop():
        waited = time.monotonic() - started
    child.communicate(timeout=10)
    gate.close()
    assert waited >= 0.3


def test_a_holder_waits_for_the_running_loop_to_end(tmp_path):
    database = str(tmp_path / "s.db")
    gate = LoopGate(create_engine(f"sqlite:///{database}"))
    with gate.loop():
        child = holder(database, 0)
        assert child.stdout.readline() == "ready\n"
        time.sleep(0.5)
    held_after = float(child.communicate(timeout=10)[0].split()[-1])
    gate.close()
    assert held_after >= 0.3


@pytest.mark.parametrize("url", ["postgresql+psycopg://nobody@127.0.0.1:1/none", "sqlite://"])
def test_other_databases_have_no_gate(tmp_path, monkeypatch, url):
    # A holder keeps the file a gate for this URL's database name would use: the loop runs at once.
    monkeypatch.chdir(tmp_path)
    engine = create_engine(url)
    assert sqlite_database(engine) is None
    child = holder(str(tmp_path / (engine.url.database or "none")), 2)
    assert child.stdout.readline() == "ready\n"
    assert child.stdout.readline().startswith("held after")
    gate = LoopGate(engine)
    ran = []
    started = time.monotonic()
    with gate.loop():
        ran.append(time.monotonic() - started)
    gate.close()
    child.kill()
    child.communicate(timeout=10)
    assert len(ran) == 1
    assert ran[0] < 1
