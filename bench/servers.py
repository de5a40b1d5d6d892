"""Starting the benchmarked servers under gunicorn, and measuring their start and their memory."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stableflow_command(port: int, workers: int) -> list[str]:
    """What `stableflow webserver` runs: gunicorn with config/gunicorn.conf.py."""
    from app.cli import gunicorn_command

    return gunicorn_command(port, "127.0.0.1", workers)


def bare_command(port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn",
        "-c", str(ROOT / "bench" / "bare" / "gunicorn.conf.py"),
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "bench.bare.app:create_app()",
    ]


def _answers(port: int, path: str) -> bool:
    """True once the server answers `path` with a 200 (one short-lived connection)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    cold_start_seconds: float

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it if it lingers."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)

    def wait_for_processes(self, count: int, timeout: float = 15) -> None:
        """Wait until the master has forked its workers (the first answer may come from the first)."""
        deadline = time.perf_counter() + timeout
        while len(process_tree(self.process.pid)) < count and time.perf_counter() < deadline:
            time.sleep(0.05)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server's process tree has used so far."""
        return sum(_cpu_seconds(pid) for pid in process_tree(self.process.pid))

    def memory(self) -> dict:
        """Resident memory of the server's process tree (master and workers), in MB: RSS counts
        pages shared by the forked workers once per process, PSS splits them between sharers."""
        pids = process_tree(self.process.pid)
        rss = [_status_kb(pid, "VmRSS") / 1024 for pid in pids]
        pss = [_pss_kb(pid) / 1024 for pid in pids]
        return {
            "processes": len(pids),
            "rss_mb": round(sum(rss), 1),
            "pss_mb": round(sum(pss), 1),
            # pids[0] is the master; the rest are its workers.
            "workers_rss_mb": round(sum(rss[1:]), 1),
            "workers_pss_mb": round(sum(pss[1:]), 1),
        }


def start(name: str, command: list[str], env: dict, port: int, health_path: str, timeout: float = 60) -> Server:
    """Start a server and time it from exec to its first 200 on `health_path` (its cold start)."""
    log = open(Path(env.get("STABLEFLOW_HOME", "/tmp")) / f"{name}-gunicorn.log", "ab")
    began = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    log.close()
    deadline = began + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} server exited with {process.returncode}; see its gunicorn log")
        if _answers(port, health_path):
            return Server(name, port, process, time.perf_counter() - began)
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"{name} server did not answer within {timeout} s")


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
