"""Where one operation's time goes: serve it N times in-process (the production app, without
gunicorn) under cProfile and print the costliest functions, or, with --timing, measure the CPU
time of each request with warm and with evicted CPU caches.

    python -m bench.profile_request [--home bench/results/home] [--count 300] [--sort tottime] OPERATION...
    python -m bench.profile_request --timing OPERATION...

OPERATION is a name as bench.http_bench prints it, e.g. "GET /pools".

Why --timing evicts caches: served the same request in a loop, the app runs with its code and data
in the CPU caches and takes about half the CPU time it takes under gunicorn, where the worker's
own loop, the kernel's networking and the other processes run between two requests. The figure
with the caches evicted (a walk over 16 MB and 200,000 objects before each request, not timed)
is within about 10% of the app's share of `cpu ms` in the HTTP bench; the warm one is a floor.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

from bench import dataset
from bench.http_bench import operations


def _environ_factory(req):
    """A function making a fresh WSGI environ for `req`, as gunicorn would pass it."""
    path, _, query = req.path.partition("?")
    base = {
        "REQUEST_METHOD": req.method, "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8080", "HTTP_ACCEPT": "*/*",
        "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
        "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }
    for name, value in req.headers:
        base["HTTP_" + name.upper().replace("-", "_")] = value
    if req.body:
        base["CONTENT_TYPE"] = "application/json"
        base["CONTENT_LENGTH"] = str(len(req.body))

    def environ() -> dict:
        return {**base, "wsgi.input": io.BytesIO(req.body or b"")}

    return environ


class _Caller:
    """Serve an operation's requests in turn, failing on any error answer."""

    def __init__(self, app, requests):
        self.app = app
        self.environs = [_environ_factory(req) for req in requests]
        self.requests = requests
        self.status = ""

    def _start_response(self, status, headers, exc_info=None):
        self.status = status

    def __call__(self, i: int) -> None:
        body = b"".join(self.app(self.environs[i % len(self.environs)](), self._start_response))
        if not self.status.startswith(("2", "3")):
            req = self.requests[i % len(self.requests)]
            raise SystemExit(f"{req.method} {req.path}: {self.status} {body[:300]!r}")


class _CacheEvictor:
    """Touch more memory than the CPU caches hold, and many Python objects, between requests."""

    def __init__(self):
        self.buffer = bytearray(16 * 1024 * 1024)
        self.objects = [{"n": i, "s": str(i)} for i in range(200_000)]
        self.stride = bytes(len(self.buffer[::64]))

    def __call__(self) -> None:
        total = 0
        for item in self.objects[::3]:
            total += item["n"]
        self.buffer[::64] = self.stride


def timing(call: _Caller, count: int) -> dict[str, float]:
    """Microseconds of CPU per request: the best of three rounds, warm and with caches evicted."""
    evict = _CacheEvictor()
    figures = {}
    for mode, rounds in (("warm", count * 3), ("evicted", count)):
        best = None
        for _ in range(3):
            spent = 0.0
            for i in range(rounds):
                if mode == "evicted":
                    evict()
                began = time.process_time()
                call(i)
                spent += time.process_time() - began
            per_request = spent / rounds * 1e6
            best = per_request if best is None else min(best, per_request)
        figures[mode] = best
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("operation", nargs="+")
    parser.add_argument("--home", type=Path, default=dataset.DEFAULT_HOME)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative)")
    parser.add_argument("--lines", type=int, default=35)
    parser.add_argument("--timing", action="store_true", help="CPU per request, warm and with caches evicted")
    args = parser.parse_args(argv)
    manifest = json.loads((args.home / "dataset.json").read_text())
    os.environ.update(dataset.bench_env(args.home.resolve()))
    for key in [k for k in os.environ if k.startswith("STABLEFLOW__")]:
        del os.environ[key]
    from app import create_app

    app = create_app()
    known = operations(manifest)
    for name in args.operation:
        if name not in known:
            parser.error(f"unknown operation {name!r}; known: {', '.join(known)}")
        call = _Caller(app, known[name])
        for i in range(50):
            call(i)
        if args.timing:
            figures = timing(call, args.count)
            print(f"{name:32s} warm {figures['warm']:6.0f} us   caches evicted {figures['evicted']:6.0f} us")
            continue
        profiler = cProfile.Profile()
        began = time.perf_counter()
        profiler.enable()
        for i in range(args.count):
            call(i)
        profiler.disable()
        elapsed = time.perf_counter() - began
        print(f"{name}: {elapsed / args.count * 1000:.2f} ms per request under the profiler")
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)


if __name__ == "__main__":
    main()
