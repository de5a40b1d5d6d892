"""The load generator: a bounded number of HTTP/1.1 requests at a fixed concurrency, from several
processes, each driving its connections with one non-blocking event loop.

Requests are rendered to bytes once, before the clock starts; a response is read by its
Content-Length only. Connections are kept alive unless the server answers `Connection: close`
(gunicorn's sync workers always do), in which case the next request opens a new one, as any
client would. Each process reports its latencies and its own CPU time, so a report can show that
the driver was not the bottleneck.

    python -m bench.driver --selftest      # the driver against a trivial server: its ceiling
"""
from __future__ import annotations

import argparse
import errno
import multiprocessing as mp
import os
import resource
import selectors
import socket
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    def render(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.body or self.method in ("POST", "PATCH", "PUT"):
            lines += ["Content-Type: application/json", f"Content-Length: {len(self.body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies_ms: list[float]
    statuses: Counter
    errors: int
    driver_cpu_seconds: float
    connections_opened: int
    samples: dict[int, bytes] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class _Conn:
    __slots__ = ("sock", "out", "buf", "started", "need", "status", "close_after", "head_done")

    def __init__(self):
        self.sock = None
        self.reset()

    def reset(self):
        self.out = b""
        self.buf = bytearray()
        self.started = 0
        self.need = -1
        self.status = 0
        self.close_after = False
        self.head_done = False


def _parse_head(conn: _Conn) -> bool:
    """Read the status and the body length once the head is complete."""
    end = conn.buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    head = bytes(conn.buf[:end]).decode("latin-1").split("\r\n")
    conn.status = int(head[0].split(" ", 2)[1])
    length = 0
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            conn.close_after = True
        elif name == "transfer-encoding":
            raise RuntimeError("chunked responses are not supported by the bench driver")
    conn.need = end + 4 + length
    conn.head_done = True
    return True


def _worker(address, payloads: list[bytes], count: int, connections: int, offset: int, start_at: float, out):
    """One driver process: `count` requests over `connections` sockets, cycling `payloads`."""
    sel = selectors.DefaultSelector()
    latencies = array("d")
    statuses: Counter = Counter()
    samples: dict[int, bytes] = {}
    errors = 0
    opened = 0
    sent = 0
    done = 0
    conns = [_Conn() for _ in range(connections)]

    def connect(conn: _Conn) -> None:
        nonlocal opened
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        err = sock.connect_ex(address)
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, os.strerror(err))
        conn.sock = sock
        opened += 1

    def send_next(conn: _Conn) -> None:
        nonlocal sent
        if conn.sock is None:
            connect(conn)
        conn.reset()
        conn.out = payloads[(offset + sent) % len(payloads)]
        sent += 1
        conn.started = time.perf_counter()
        sel.register(conn.sock, selectors.EVENT_WRITE, conn)

    def close(conn: _Conn) -> None:
        sel.unregister(conn.sock)
        conn.sock.close()
        conn.sock = None

    while time.time() < start_at:
        time.sleep(0.001)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    for conn in conns:
        if sent < count:
            send_next(conn)
    while done < count:
        for key, mask in sel.select(timeout=30):
            conn = key.data
            try:
                if mask & selectors.EVENT_WRITE:
                    n = conn.sock.send(conn.out)
                    conn.out = conn.out[n:]
                    if not conn.out:
                        sel.modify(conn.sock, selectors.EVENT_READ, conn)
                    continue
                chunk = conn.sock.recv(262144)
                if not chunk:
                    raise ConnectionResetError("server closed the connection mid-response")
                conn.buf += chunk
                if not conn.head_done and not _parse_head(conn):
                    continue
                if len(conn.buf) < conn.need:
                    continue
            except (OSError, RuntimeError, ValueError) as exc:
                # A failed request counts as an error and its connection starts over.
                errors += 1
                statuses[f"error:{type(exc).__name__}"] += 1
                close(conn)
                done += 1
                if sent < count:
                    send_next(conn)
                continue
            latencies.append((time.perf_counter() - conn.started) * 1000)
            statuses[conn.status] += 1
            if conn.status >= 400:
                errors += 1
                samples.setdefault(conn.status, bytes(conn.buf[:600]))
            done += 1
            if conn.close_after:
                close(conn)
            else:
                sel.unregister(conn.sock)
            if sent < count:
                send_next(conn)
    ended = time.perf_counter()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    for conn in conns:
        if conn.sock is not None:
            conn.sock.close()
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    out.send((began, ended, latencies.tobytes(), dict(statuses), errors, cpu, opened, samples))
    out.close()


def run_load(
    host: str,
    port: int,
    requests: list[Request],
    *,
    total: int,
    concurrency: int = 8,
    processes: int = 2,
) -> LoadResult:
    """Send `total` requests (cycling through `requests`) with `concurrency` connections in flight."""
    processes = max(1, min(processes, concurrency, total))
    payloads = [r.render(f"{host}:{port}") for r in requests]
    ctx = mp.get_context("fork")
    start_at = time.time() + 0.2
    children = []
    for i in range(processes):
        count = total // processes + (1 if i < total % processes else 0)
        conns = concurrency // processes + (1 if i < concurrency % processes else 0)
        reader, writer = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_worker, args=((host, port), payloads, count, conns, i * 7919, start_at, writer), daemon=True
        )
        proc.start()
        writer.close()
        children.append((proc, reader))
    began, ended, latencies = [], [], array("d")
    statuses: Counter = Counter()
    samples: dict[int, bytes] = {}
    errors = opened = 0
    cpu = 0.0
    for proc, reader in children:
        b, e, lat, st, err, c, op, sm = reader.recv()
        proc.join()
        began.append(b)
        ended.append(e)
        chunk = array("d")
        chunk.frombytes(lat)
        latencies.extend(chunk)
        statuses.update(st)
        errors += err
        cpu += c
        opened += op
        for status, body in sm.items():
            samples.setdefault(status, body)
    return LoadResult(
        requests=total,
        seconds=max(ended) - min(began),
        latencies_ms=list(latencies),
        statuses=statuses,
        errors=errors,
        driver_cpu_seconds=cpu,
        connections_opened=opened,
        samples=samples,
    )


# -- self test: the driver's ceiling --------------------------------------------------------------
_CANNED = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def _trivial_server(sock: socket.socket) -> None:
    """Answer every request with a canned keep-alive response; as cheap as a server can be."""
    sel = selectors.DefaultSelector()
    sock.setblocking(False)
    sel.register(sock, selectors.EVENT_READ, None)
    while True:
        for key, _mask in sel.select():
            if key.data is None:
                client, _ = sock.accept()
                client.setblocking(False)
                sel.register(client, selectors.EVENT_READ, bytearray())
                continue
            buf = key.data
            try:
                chunk = key.fileobj.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                continue
            buf += chunk
            while (end := buf.find(b"\r\n\r\n")) >= 0:
                del buf[:end + 4]
                key.fileobj.sendall(_CANNED)


def selftest(total: int = 50000, concurrency: int = 8, processes: int = 2) -> LoadResult:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = mp.get_context("fork").Process(target=_trivial_server, args=(sock,), daemon=True)
    server.start()
    sock.close()
    try:
        return run_load("127.0.0.1", port, [Request("GET", "/")], total=total, concurrency=concurrency,
                        processes=processes)
    finally:
        server.terminate()
        server.join()


def main() -> None:
    parser = argparse.ArgumentParser(description="The bench's load generator.")
    parser.add_argument("--selftest", action="store_true", help="measure the driver against a trivial server")
    parser.add_argument("--requests", type=int, default=50000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    if not args.selftest:
        parser.error("only --selftest runs on its own; bench.http_bench drives the servers")
    result = selftest(args.requests, args.concurrency, args.processes)
    print(
        f"driver ceiling: {result.rate:,.0f} req/s (p50 {result.percentile(50):.2f} ms, p99 "
        f"{result.percentile(99):.2f} ms), {result.driver_cpu_seconds / result.requests * 1e6:.0f} us of "
        f"driver CPU per request, {result.errors} errors"
    )


if __name__ == "__main__":
    main()
