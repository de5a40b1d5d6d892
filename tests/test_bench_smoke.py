"""The bench scripts run end to end at a trivial scale (the figures themselves are bench/'s job)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.driver import selftest

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--dags", "2", "--runs", "4", "--task-instances", "8", "--variables", "3", "--pools", "2", "--event-logs", "5"]


def _run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_driver_counts_every_request():
    result = selftest(total=300, concurrency=4, processes=2)
    assert (result.requests, result.errors, dict(result.statuses), len(result.latencies_ms)) == (300, 0, {200: 300}, 300)


@pytest.mark.timeout(600)
def test_dataset_and_http_bench_at_a_trivial_scale(tmp_path):
    home = tmp_path / "home"
    loaded = _run("-m", "bench.dataset", "--home", str(home), *TINY)
    assert loaded.returncode == 0, loaded.stderr
    manifest = json.loads((home / "dataset.json").read_text())
    assert manifest["scale"] == {"dags": 2, "runs": 4, "task_instances": 8, "variables": 3, "pools": 2, "event_logs": 5}
    assert len(manifest["samples"]["runs"]) == 2

    results = tmp_path / "results"
    bench = _run("-m", "bench.http_bench", "--home", str(home), "--requests", "10", "--results", str(results))
    assert bench.returncode == 0, bench.stderr
    (report_file,) = results.glob("http-*.json")
    report = json.loads(report_file.read_text())
    operations = report["stableflow"]["operations"]
    assert len(operations) == 11
    assert {name: op["errors"] for name, op in operations.items()} == {name: 0 for name in operations}
    assert {name: op["requests"] for name, op in report["bare"]["operations"].items()} == {
        "GET /health": 10, "GET /pools": 10,
    }
    assert report["stableflow"]["cold_start_s"] > 0
    assert report["stableflow"]["memory_after_load"]["processes"] == 3

    timed = _run("-m", "bench.profile_request", "--home", str(home), "--timing", "--count", "5",
                 "GET /pools", "PATCH /variables/{key}")
    assert timed.returncode == 0, timed.stderr
    assert [line.split()[:2] for line in timed.stdout.splitlines()] == [["GET", "/pools"], ["PATCH", "/variables/{key}"]]
    assert all("caches evicted" in line for line in timed.stdout.splitlines())


@pytest.mark.timeout(600)
def test_scheduler_bench_at_a_trivial_scale():
    result = _run("bench/scheduler_bench.py", "--runs", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("3 runs x 5 tasks")
