"""The HTTP benchmark: stableflow under gunicorn against a bare Connexion app, same workers, same load.

    python -m bench.http_bench [--home bench/results/home] [--workers 2] [--requests 2000]
                               [--concurrency 8] [--only NAME ...]
    python -m bench.http_bench --scale-check [--scale-runs 1000,10000,100000]

The first form serves the dataset `python -m bench.dataset` loaded into the home (Basic auth on
every request), drives every benchmarked operation with a bounded number of requests from separate
processes (bench/driver.py), then does the same against bench/bare, and prints one table: req/s,
p50, p99, errors, each also as a ratio to the bare app, with both servers' cold start and memory.

`--scale-check` loads datasets of 10 DAGs with 1k, 10k and 100k runs (10 task instances each;
every page is full at every scale) and compares the reads side by side.

Results go to bench/results/*.json (gitignored), with the machine's load average before and after.
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import sys
from dataclasses import asdict
from pathlib import Path

from bench import dataset, servers
from bench.driver import LoadResult, Request, run_load

RESULTS = Path(__file__).resolve().parent / "results"
READS = (
    "GET /health", "GET /pools", "GET /variables/{key}", "GET /dags?limit=100", "GET /dags/{dag_id}",
    "GET /dags/{id}/dagRuns", "POST /dags/~/dagRuns/list", "GET .../taskInstances", "GET /eventLogs?limit=100",
)
WRITES = ("POST /dags/{id}/dagRuns", "PATCH /variables/{key}")
API = "/api/v1"


def operations(manifest: dict) -> dict[str, list[Request]]:
    """Every benchmarked operation with the requests it cycles through (ids from the dataset)."""
    token = base64.b64encode(f"{manifest['user']}:{manifest['password']}".encode()).decode()
    auth = (("Authorization", f"Basic {token}"),)
    samples = manifest["samples"]

    def get(path: str) -> Request:
        return Request("GET", API + path, headers=auth)

    def send(method: str, path: str, body: dict) -> Request:
        return Request(method, API + path, json.dumps(body).encode(), auth)

    dags, runs, keys = samples["dag_ids"], samples["runs"], samples["variable_keys"]
    return {
        "GET /health": [get("/health")],
        "GET /pools": [get("/pools")],
        "GET /variables/{key}": [get(f"/variables/{key}") for key in keys],
        "GET /dags?limit=100": [get("/dags?limit=100")],
        "GET /dags/{dag_id}": [get(f"/dags/{dag}") for dag in dags],
        "GET /dags/{id}/dagRuns": [get(f"/dags/{dag}/dagRuns?limit=100&order_by=-execution_date") for dag in dags],
        "POST /dags/~/dagRuns/list": [send("POST", "/dags/~/dagRuns/list", {"page_limit": 100})],
        "GET .../taskInstances": [get(f"/dags/{dag}/dagRuns/{run}/taskInstances") for dag, run in runs],
        "GET /eventLogs?limit=100": [get("/eventLogs?limit=100")],
        # Logical date now: every trigger is a new run, spread over the DAGs.
        "POST /dags/{id}/dagRuns": [send("POST", f"/dags/{dag}/dagRuns", {}) for dag in dags],
        "PATCH /variables/{key}": [
            send("PATCH", f"/variables/{key}", {"key": key, "value": f"patched {key}"}) for key in keys
        ],
    }


def scale_operations(manifest: dict) -> dict[str, list[Request]]:
    """The benchmark's reads, and two more lists that grow with the runs: a DAG's runs in the
    default order, and task instances across every run."""
    ops = {name: reqs for name, reqs in operations(manifest).items() if name in READS}
    auth = ops["GET /pools"][0].headers
    dags = manifest["samples"]["dag_ids"]
    ops["GET /dags/{id}/dagRuns (by id)"] = [Request("GET", f"{API}/dags/{dag}/dagRuns?limit=100", headers=auth)
                                            for dag in dags]
    ops["GET /dags/~/dagRuns/~/taskInstances"] = [
        Request("GET", f"{API}/dags/~/dagRuns/~/taskInstances?limit=100", headers=auth)
    ]
    return ops


def bare_operations() -> dict[str, list[Request]]:
    return {"GET /health": [Request("GET", API + "/health")], "GET /pools": [Request("GET", API + "/pools")]}


def figures(result: LoadResult, server_cpu_seconds: float) -> dict:
    return {
        # CPU the server spent per request: the figure least disturbed by other load on the machine.
        "server_cpu_ms_per_request": round(server_cpu_seconds / result.requests * 1000, 3),
        "requests": result.requests,
        "req_per_s": round(result.rate, 1),
        "p50_ms": round(result.percentile(50), 2),
        "p99_ms": round(result.percentile(99), 2),
        "errors": result.errors,
        "statuses": {str(k): v for k, v in result.statuses.items()},
        "driver_cpu_us_per_request": round(result.driver_cpu_seconds / result.requests * 1e6, 1),
        "connections_opened": result.connections_opened,
    }


def drive(server: servers.Server, ops: dict[str, list[Request]], *, requests: int, concurrency: int,
          warmup: int = 100) -> dict[str, dict]:
    out = {}
    for name, reqs in ops.items():
        run_load("127.0.0.1", server.port, reqs, total=warmup, concurrency=concurrency)
        cpu_before = server.cpu_seconds()
        result = run_load("127.0.0.1", server.port, reqs, total=requests, concurrency=concurrency)
        out[name] = figures(result, server.cpu_seconds() - cpu_before)
        for status, body in result.samples.items():
            print(f"  {server.name} {name}: first {status} answer: {body[:300]!r}", file=sys.stderr)
        print(f"  {server.name:10} {name:28} {result.rate:8.1f} req/s", file=sys.stderr)
    return out


def serve_and_drive(name: str, command: list[str], env: dict, port: int, ops, args) -> dict:
    server = servers.start(name, command, env, port, API + "/health")
    try:
        server.wait_for_processes(args.workers + 1)
        memory_idle = server.memory()
        results = drive(server, ops, requests=args.requests, concurrency=args.concurrency)
        return {
            "cold_start_s": round(server.cold_start_seconds, 3),
            "memory_idle": memory_idle,
            "memory_after_load": server.memory(),
            "operations": results,
        }
    finally:
        server.stop()


def conditions() -> dict:
    return {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def run_http_bench(args) -> dict:
    manifest = json.loads((args.home / "dataset.json").read_text())
    env = dataset.bench_env(args.home.resolve())
    ops = operations(manifest)
    if args.only:
        ops = {name: reqs for name, reqs in ops.items() if name in args.only}
    report = {"conditions_before": conditions(), "dataset": manifest["scale"], "database": manifest["database"],
              "workers": args.workers, "concurrency": args.concurrency}
    port = servers.free_port()
    extra = args.gunicorn_args.split() if args.gunicorn_args else []
    report["gunicorn_args"] = extra
    report["stableflow"] = serve_and_drive(
        "stableflow", servers.stableflow_command(port, args.workers) + extra, env, port, ops, args)
    port = servers.free_port()
    report["bare"] = serve_and_drive("bare", servers.bare_command(port, args.workers) + extra, env, port,
                                     bare_operations(), args)
    report["conditions_after"] = conditions()
    print_report(report)
    return report


def _bare_reference(report: dict) -> dict:
    """The bare app's figures the ratios divide by: the mean of its two operations."""
    ops = report["bare"]["operations"].values()
    return {key: sum(op[key] for op in ops) / len(ops) for key in ("req_per_s", "p50_ms", "p99_ms")}


def print_report(report: dict) -> None:
    ref = _bare_reference(report)
    ours = report["stableflow"]
    print(f"\nstableflow vs bare Connexion: {report['workers']} gunicorn workers, concurrency "
          f"{report['concurrency']}, {report['database']}, dataset {report['dataset']}")
    print(f"load average before {report['conditions_before']['load_average']}, after "
          f"{report['conditions_after']['load_average']}")
    header = (f"{'operation':30} {'req/s':>8} {'x bare':>7} {'p50 ms':>8} {'x bare':>7} {'p99 ms':>8} {'x bare':>7} "
              f"{'errors':>6} {'cpu ms':>7}")
    print(header)
    print("-" * len(header))
    rows = [(f"bare {name}", op) for name, op in report["bare"]["operations"].items()]
    rows += list(ours["operations"].items())
    for name, op in rows:
        print(f"{name:30} {op['req_per_s']:8.1f} {op['req_per_s'] / ref['req_per_s']:7.2f} {op['p50_ms']:8.2f} "
              f"{op['p50_ms'] / ref['p50_ms']:7.2f} {op['p99_ms']:8.2f} {op['p99_ms'] / ref['p99_ms']:7.2f} "
              f"{op['errors']:6d} {op['server_cpu_ms_per_request']:7.2f}")
    for label, key in (("cold start s", "cold_start_s"),):
        print(f"{label}: stableflow {ours[key]:.2f}, bare {report['bare'][key]:.2f} "
              f"(x{ours[key] / report['bare'][key]:.2f})")
    for when in ("memory_idle", "memory_after_load"):
        a, b = ours[when], report["bare"][when]
        print(f"{when.replace('_', ' ')}: stableflow RSS {a['rss_mb']} MB / PSS {a['pss_mb']} MB "
              f"({a['processes']} processes; workers RSS {a['workers_rss_mb']} MB), bare RSS {b['rss_mb']} MB / "
              f"PSS {b['pss_mb']} MB (x{a['rss_mb'] / b['rss_mb']:.2f} RSS, x{a['pss_mb'] / b['pss_mb']:.2f} PSS)")
    cpu = max(op["driver_cpu_us_per_request"] for _, op in rows)
    print("cpu ms: the server's CPU time per request (all its processes), the figure other load disturbs least")
    print(f"driver CPU: at most {cpu:.0f} us per request (python -m bench.driver --selftest shows its ceiling)")


# -- scale check ---------------------------------------------------------------------------------
def ensure_scale_dataset(runs: int, db: str, reload: bool, folder: Path) -> Path:
    home = folder / f"scale-{runs}"
    scale = dataset.Scale(dags=10, runs=runs, task_instances=runs * 10, variables=1000, pools=100, event_logs=10_000)
    manifest = home / "dataset.json"
    if reload or not manifest.exists() or json.loads(manifest.read_text())["scale"] != asdict(scale):
        home.mkdir(parents=True, exist_ok=True)
        print(f"loading the {runs}-run dataset into {home}", file=sys.stderr)
        dataset.load_in_subprocess(home, db, scale)
    return home


def run_scale_check(args) -> dict:
    report = {"conditions_before": conditions(), "workers": args.workers, "concurrency": args.concurrency,
              "scales": {}}
    for runs in args.scale_runs:
        home = ensure_scale_dataset(runs, args.db, args.reload, args.results)
        manifest = json.loads((home / "dataset.json").read_text())
        ops = scale_operations(manifest)
        port = servers.free_port()
        report["scales"][str(runs)] = serve_and_drive(
            f"stableflow-{runs}", servers.stableflow_command(port, args.workers), dataset.bench_env(home), port, ops, args
        )
        report["database"] = manifest["database"]
    report["conditions_after"] = conditions()
    print_scale(report)
    return report


def print_scale(report: dict) -> None:
    scales = list(report["scales"])
    first, last = scales[0], scales[-1]
    print(f"\nscale check: 10 DAGs, 10 task instances per run, {report['workers']} workers, "
          f"{report.get('database')}; load average before {report['conditions_before']['load_average']}, "
          f"after {report['conditions_after']['load_average']}")
    head = f"{'operation':36}" + "".join(f"{s + ' runs':>24}" for s in scales) + f"{'slowdown':>20}"
    print(head)
    print(f"{'':30}" + "".join(f"{'req/s cpu ms p99 ms':>24}" for _ in scales) + f"{'req/s   cpu':>20}")
    print("-" * len(head))
    for name in report["scales"][first]["operations"]:
        cells = ""
        for s in scales:
            op = report["scales"][s]["operations"][name]
            cells += f"{op['req_per_s']:>9.0f} {op['server_cpu_ms_per_request']:6.2f} {op['p99_ms']:7.1f}"
        a, b = report["scales"][first]["operations"][name], report["scales"][last]["operations"][name]
        by_rate = a["req_per_s"] / b["req_per_s"]
        by_cpu = b["server_cpu_ms_per_request"] / a["server_cpu_ms_per_request"]
        print(f"{name:36}{cells}{by_rate:>13.2f}x {by_cpu:5.2f}x")


def write(report: dict, kind: str, folder: Path = RESULTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = folder / f"{kind}-{stamp}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"results: {path}")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="stableflow's HTTP benchmark.")
    parser.add_argument("--home", type=Path, default=dataset.DEFAULT_HOME, help="a home filled by bench.dataset")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=2000, help="requests per operation")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--only", nargs="*", help="operation names to run (as printed)")
    parser.add_argument("--gunicorn-args", help="extra gunicorn options for both servers, e.g. '--worker-class gthread'")
    parser.add_argument("--scale-check", action="store_true")
    parser.add_argument("--scale-runs", type=lambda s: [int(x) for x in s.split(",")], default=[1000, 10_000, 100_000])
    parser.add_argument("--db", default="sqlite", help="scale check: sqlite, or a PostgreSQL URL to reset per scale")
    parser.add_argument("--reload", action="store_true", help="scale check: reload the datasets even if present")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"folder of the JSON results (default {RESULTS})")
    args = parser.parse_args(argv)
    if args.scale_check:
        write(run_scale_check(args), "scale", args.results)
    else:
        if not (args.home / "dataset.json").exists():
            parser.error(f"no dataset in {args.home}: run `python -m bench.dataset --home {args.home}` first")
        write(run_http_bench(args), "http", args.results)


if __name__ == "__main__":
    main()
