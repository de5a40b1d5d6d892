"""Where one operation's time goes: serve it N times in-process (the production app, the test
client instead of gunicorn) under cProfile, and print the costliest functions.

    python -m bench.profile_request [--home bench/results/home] [--count 300] [--sort tottime] OPERATION

OPERATION is a name as bench.http_bench prints it, e.g. "GET /pools".
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import time
from pathlib import Path

from bench import dataset
from bench.http_bench import operations


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("operation")
    parser.add_argument("--home", type=Path, default=dataset.DEFAULT_HOME)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative)")
    parser.add_argument("--lines", type=int, default=35)
    args = parser.parse_args(argv)
    manifest = json.loads((args.home / "dataset.json").read_text())
    os.environ.update(dataset.bench_env(args.home.resolve()))
    for key in [k for k in os.environ if k.startswith("STABLEFLOW__")]:
        del os.environ[key]
    from app import create_app

    client = create_app().test_client()
    requests = operations(manifest)[args.operation]

    def call(i: int):
        req = requests[i % len(requests)]
        headers = dict(req.headers)
        kwargs = {"data": req.body, "content_type": "application/json"} if req.body else {}
        response = client.open(req.path, method=req.method, headers=headers, **kwargs)
        if response.status_code >= 400:
            raise SystemExit(f"{req.method} {req.path}: {response.status_code} {response.get_data(as_text=True)}")

    for i in range(20):
        call(i)
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    for i in range(args.count):
        call(i)
    profiler.disable()
    elapsed = time.perf_counter() - began
    print(f"{args.operation}: {elapsed / args.count * 1000:.2f} ms per request under the profiler")
    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)


if __name__ == "__main__":
    main()
