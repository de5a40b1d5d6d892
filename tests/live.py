"""A real server under gunicorn on a free loopback port, for tests that need one (official client,
races across worker processes, crash safety, fuzzing)."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.conftest import FERNET_KEY, TEST_PASSWORD

_STABLEFLOW = str(Path(sys.executable).with_name("stableflow"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    home: Path
    env: dict
    process: subprocess.Popen | None = None
    username: str = "admin"
    password: str = TEST_PASSWORD
    extra_processes: list = field(default_factory=list)

    @property
    def api(self) -> str:
        return self.url + "/api/v1"

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)

    def session(self) -> requests.Session:
        sess = requests.Session()
        sess.auth = self.auth
        return sess

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [_STABLEFLOW, *args], env=self.env, capture_output=True, text=True, timeout=120, check=check
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill gunicorn's whole process group (master and workers) at once."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def start(self, workers: int = 2, timeout: float = 30) -> None:
        port = int(self.url.rsplit(":", 1)[1])
        with open(self.home / "webserver.log", "ab") as log_file:
            # The child keeps its own copy of the descriptor.
            self.process = subprocess.Popen(
                [_STABLEFLOW, "webserver", "-p", str(port), "-H", "127.0.0.1", "-w", str(workers)],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("server exited: " + (self.home / "webserver.log").read_text()[-3000:])
            try:
                if requests.get(self.api + "/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start: " + (self.home / "webserver.log").read_text()[-3000:])


def live_env(home: Path, db_url: str | None = None, **options: str) -> dict:
    """Environment for a server in `home`; `options` are STABLEFLOW__S__K=value pairs as S__K."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STABLEFLOW")}
    env.update(
        {
            "STABLEFLOW_HOME": str(home),
            "STABLEFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url or f"sqlite:///{home}/live.db",
            "STABLEFLOW__API__AUTH_BACKENDS": "auth_backends.basic_auth",
            "STABLEFLOW__CORE__FERNET_KEY": FERNET_KEY,
            "STABLEFLOW__CORE__LOAD_EXAMPLES": "False",
            "STABLEFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "STABLEFLOW__WEBSERVER__SECRET_KEY": "live-secret-key",
            "STABLEFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
    )
    for key, value in options.items():
        env["STABLEFLOW__" + key.upper()] = str(value)
    return env


@contextlib.contextmanager
def live_server(home: Path, *, db_url: str | None = None, workers: int = 2, **options: str):
    """Migrate a fresh database, create `admin` (password test-password), serve, and clean up."""
    home.mkdir(parents=True, exist_ok=True)
    env = live_env(home, db_url, **options)
    server = LiveServer(url=f"http://127.0.0.1:{free_port()}", home=home, env=env)
    if db_url:
        server.cli("db", "reset", "--yes")
    else:
        server.cli("db", "migrate")
    _create_admin(env)
    try:
        server.start(workers=workers)
        yield server
    finally:
        server.kill(signal.SIGTERM)
        for proc in server.extra_processes:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)


def _create_admin(env: dict) -> None:
    code = (
        "from app.cli import app_context\n"
        "from app.users import create_user\n"
        "from app.extensions import db\n"
        "with app_context():\n"
        f"    create_user('admin', {TEST_PASSWORD!r}, roles=['Admin'], email='admin@example.com')\n"
        "    db.session.commit()\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120, capture_output=True)
