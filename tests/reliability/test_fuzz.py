"""Property-based fuzzing of every operation of openapi.yaml against a live gunicorn server.

Schemathesis (its CLI, run as a subprocess) generates positive and negative requests for all 89
operations (coverage and fuzzing phases; the spec carries no examples) and stateful sequences
through the links it infers from the response schemas, authenticated as `admin`, with a fixed
seed. Each phase gets a freshly seeded server (tests/reliability/seed_live.py), so deletes in one
phase do not starve the next, and path and query parameters are drawn half the time from the ids
that really exist (schemathesis dictionaries), so calls reach the handlers' logic, not just 404s.

The server validates its own responses against the spec (`[api] validate_responses`): a body that
breaks the spec is a 500 there. Schemathesis checks status codes, content types, headers and
bodies again on its side. Required: no 5xx, no response that breaks the spec. Checks left out:
- positive_data_acceptance: Airflow's spec (and so ours) is looser than its server's validation:
  bodies allow unknown keys that the server rejects, `order_by` is any string but an allow-list,
  names may be empty in the spec... Such requests get a 400 problem document, as in Airflow.
- allow_header_conformance: Flask answers OPTIONS itself, and `/connections/test` also matches the
  `/connections/{connection_id}` rule, so its `Allow` lists that rule's methods too.

Budget: STABLEFLOW_FUZZ_EXAMPLES examples per operation in the fuzzing phase, five times as many
stateful scenarios (CI uses the default). The coverage phase's cases follow from the spec.

No OpenAPI `links` are written into openapi.yaml: schemathesis infers 482 links from the response
schemas and parameter names, and hand-written links for the create operations added a handful of
followed transitions in a trial while being one more thing to keep true by hand.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from itsdangerous import URLSafeSerializer

from tests.live import live_database_url, live_server
from tests.reliability.seed_live import RUNS

ROOT = Path(__file__).resolve().parents[2]
SEED = 20240601
MAX_EXAMPLES = int(os.environ.get("STABLEFLOW_FUZZ_EXAMPLES", "10"))
PHASES = ("coverage", "fuzzing", "stateful")
EXCLUDED_CHECKS = "positive_data_acceptance,allow_header_conformance"
# Stateful scenarios are sequences of up to this many calls chained through inferred links.
STATEFUL_MAX_STEPS = 20
# How often a bound parameter takes a real value instead of a generated one.
REAL_VALUE_PROBABILITY = 0.5
_SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


def real_values(server) -> dict[str, list]:
    """Ids that exist after seeding, per parameter name (path and query alike)."""
    dags_folder = server.home / "dags"
    signer = URLSafeSerializer(server.env["STABLEFLOW__WEBSERVER__SECRET_KEY"])
    return {
        "dag_id": ["pipeline", "consumer", "~"],
        "dag_run_id": sorted({run_id for _, run_id, _, _ in RUNS}) + ["~"],
        "task_id": ["extract", "transform", "load", "consume", "~"],
        "map_index": [-1, 0, 1, 2],
        "task_try_number": [1, 2],
        "xcom_key": ["return_value"],
        "pool_name": ["default_pool", "fuzz_pool"],
        "variable_key": ["fuzz_var"],
        "connection_id": ["fuzz_conn"],
        "username": ["fuzz_viewer"],
        "role_name": ["Viewer", "User", "Op"],
        "uri": ["s3://fuzz/extracted"],
        "event_log_id": [1, 2, 3],
        "import_error_id": [1],
        "file_token": [signer.dumps(str((dags_folder / name).resolve())) for name in ("pipeline.yaml", "consumer.yaml")],
        "section": ["core", "api"],
        "option": ["dags_folder", "maximum_page_limit"],
    }


def _toml_value(value) -> str:
    return json.dumps(value)  # strings, integers and lists of them are the same in TOML and JSON


def write_config(path: Path, server) -> None:
    # Path parameters with `format: path` (dataset URIs, variable keys) filter many generated
    # strings out; that is expected, not a reason to stop.
    # No state carried between runs (a fixed seed must mean the same run), and none in the checkout.
    lines = ['suppress-health-check = ["filter_too_much"]', "", "[cache]", "enabled = false", "",
             "[phases.stateful]",
             f"max-steps = {STATEFUL_MAX_STEPS}", ""]
    for name, values in real_values(server).items():
        lines += [f"[dictionaries.{name}]", f"values = {_toml_value(values)}", ""]
    lines.append("[parameters]")
    for name in real_values(server):
        for location in ("path", "query"):
            lines.append(f'"{location}.{name}" = {{ dictionary = "{name}", probability = {REAL_VALUE_PROBABILITY} }}')
    path.write_text("\n".join(lines) + "\n")


def seed(server) -> None:
    subprocess.run([sys.executable, "-m", "tests.reliability.seed_live"], env=server.env, cwd=ROOT,
                   check=True, timeout=120, capture_output=True)


def run_schemathesis(server, phase: str, config: Path, report: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, SCHEMATHESIS_HOOKS="tests.reliability.fuzz_hooks",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run(
        [
            _SCHEMATHESIS, "--config-file", str(config), "run", str(ROOT / "openapi.yaml"),
            "--url", server.api,
            "--auth", ":".join(server.auth),
            "--phases", phase,
            "--mode", "all",
            "--checks", "all",
            "--exclude-checks", EXCLUDED_CHECKS,
            "--seed", str(SEED),
            "--max-examples", str(MAX_EXAMPLES * (5 if phase == "stateful" else 1)),
            "--generation-database", "none",
            # One client thread: the run is reproducible for a seed, and Python 3.11's `ast` (which
            # Hypothesis uses to describe strategies) is not safe in concurrent threads.
            "--workers", "1",
            "--request-timeout", "30",
            "--no-color",
            "--report", "json",
            "--report-json-path", str(report),
        ],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=1500,
    )


def fuzz_phase(tmp_path: Path, phase: str) -> tuple[dict, str, str]:
    """One phase against a freshly seeded server: (schemathesis report, its output, server log)."""
    home = tmp_path / phase
    report, config = tmp_path / f"{phase}.json", tmp_path / f"{phase}.toml"
    with live_server(home, db_url=live_database_url("fuzz"), workers=2, API__VALIDATE_RESPONSES="True",
                     API__MAX_FAILED_LOGINS="0", WEBSERVER__EXPOSE_CONFIG="non-sensitive-only") as server:
        seed(server)
        write_config(config, server)
        result = run_schemathesis(server, phase, config, report)
    output = result.stdout + result.stderr
    (tmp_path / f"{phase}.txt").write_text(output)
    assert report.exists(), output[-5000:]
    return json.loads(report.read_text()), output, (home / "webserver.log").read_text()


def test_fuzz_every_operation_without_5xx_or_spec_breaks(tmp_path):
    totals = {"operations": set(), "test_cases": 0}
    problems = []
    for phase in PHASES:
        summary, output, log = fuzz_phase(tmp_path, phase)
        totals["test_cases"] += summary["test_cases"]["generated"]
        if summary["phases"][phase]["status"] not in ("success", "skip"):
            problems.append(f"{phase}: {summary['phases'][phase]}")
        if summary["failures"] or summary["errors"] or summary["exit_code"] != 0:
            problems.append(f"{phase}:\n{output[-15000:]}")
        if "Unhandled error" in log or "does not conform" in log:
            problems.append(f"{phase}: server log:\n{log[-5000:]}")
        if phase == "coverage":
            totals["operations"] = summary["operations"]["tested"]
    print(f"fuzz: {totals['operations']} operations, {totals['test_cases']} test cases, seed {SEED}")
    assert totals["operations"] == 89
    assert problems == []
