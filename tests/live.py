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
# gunicorn's own graceful timeout is 30 s; a test server has nothing worth waiting that long for.
STOP_GRACE_SECONDS = 10.0


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
    forced_stops: int = 0

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
        _kill_group_leftovers(self.process)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM, then SIGKILL of the whole group if gunicorn has not exited within `grace` seconds.

        A forced stop is reported on stderr and in `forced_stops` (a test may assert on it), not
        hidden: a server that ignores SIGTERM under load is worth knowing about, but it must not
        hang or fail the test that happened to be running.
        """
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.forced_stops += 1
            print(f"live server {self.url} ignored SIGTERM for {grace}s; killing its process group", file=sys.stderr)
            self.kill(signal.SIGKILL)
        _kill_group_leftovers(self.process)

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


def live_database_url(name: str) -> str | None:
    """A database of its own for a live server, on the backend this test run uses.

    SQLite runs get None (the server then uses a file in its home). PostgreSQL runs
    (STABLEFLOW_TEST_SQL_ALCHEMY_CONN) get `sf_rel_<test database>_<name>` on the same server, created
    if missing: never the test database itself, which the live server's `db reset` would wipe.
    """
    from sqlalchemy.engine import make_url

    from tests.conftest import database_url

    url = make_url(database_url())
    if url.get_backend_name() != "postgresql":
        return None
    import psycopg

    dbname = f"sf_rel_{url.database}_{name}"[:63]
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{dbname}"')
    return url.set(database=dbname).render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_postgres_database(name: str):
    """A new, empty database `name` on the test PostgreSQL server for the block (its URL), dropped
    after it; skips the test when the test database is not PostgreSQL."""
    import pytest
    from sqlalchemy.engine import make_url

    from tests.conftest import database_url

    url = make_url(database_url())
    if url.get_backend_name() != "postgresql":
        pytest.skip("the test database is not PostgreSQL")
    import psycopg

    name = name.format(test_database=url.database)[:63]
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
        server.stop()
        for proc in server.extra_processes:
            stop_process(proc)


def stop_process(proc: subprocess.Popen, grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM a helper process (a scheduler, a load driver), SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        print(f"process {proc.args!r} ignored SIGTERM for {grace}s; killing it", file=sys.stderr)
        proc.kill()
        proc.wait(timeout=30)


def _kill_group_leftovers(process: subprocess.Popen | None) -> None:
    """Workers outliving their master (it was SIGKILLed) still hold the port and the database."""
    if process is None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


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
