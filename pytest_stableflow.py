"""pytest plugin shipped with stableflow (entry point `pytest11: stableflow`).

Fixtures (docs/testing.md has the full story):

- `stableflow_server` (session): a real server on a free loopback port: gunicorn workers and a
  scheduler, SQLite in a temporary folder, HTTP Basic auth with a known user, your DAG folder
  and seed file, tasks simulated fast. Yields a `StableflowServer` (URLs, credentials, a ready
  `requests` session, fault injection, the CLI).
- `stableflow_reset` (function): puts the seeded state back before the test (milliseconds) and
  returns the same server.
- `stableflow_dags_folder`, `stableflow_seed_file`, `stableflow_config` (session): what the server
  is started with, from the command line or the ini file; override them in a conftest.py.

The plugin is inert until one of its fixtures is used: loading it imports nothing of stableflow.
Disable it with `-p no:stableflow`.
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

# name: (ini type, ini default, help)
INI_OPTIONS = {
    "dags_folder": ("string", "", "Folder of DAG files the stableflow_server parses (default: an empty one)."),
    "seed_file": ("string", "", "YAML or JSON file `stableflow seed` loads before the session (default: none)."),
    "simulation_speed": ("string", "60", "[scheduler] simulation_speed of the test server (0: tasks take no time)."),
    "scheduler": ("bool", True, "Run a scheduler beside the test server."),
    "workers": ("string", "2", "gunicorn workers of the test server."),
    "load_examples": ("bool", False, "Load stableflow's example DAGs too."),
    "username": ("string", "admin", "Username of the Admin user the test server is started with."),
    "password": ("string", "admin", "Password of that user."),
    "config": ("linelist", [], "More settings of the test server, one `section.key = value` per line."),
    "startup_timeout": ("string", "60", "Seconds the test server may take to start."),
}
STOP_GRACE_SECONDS = 10.0
# How often the test server's scheduler loops when idle: runs start soon after they are triggered.
SCHEDULER_HEARTBEAT_SEC = "0.2"


def pytest_addoption(parser):
    group = parser.getgroup("stableflow", "stableflow test server")
    group.addoption("--stableflow-dags-folder", metavar="PATH", help=INI_OPTIONS["dags_folder"][2])
    group.addoption("--stableflow-seed-file", metavar="PATH", help=INI_OPTIONS["seed_file"][2])
    group.addoption("--stableflow-simulation-speed", metavar="SPEED", help=INI_OPTIONS["simulation_speed"][2])
    group.addoption("--stableflow-workers", metavar="N", help=INI_OPTIONS["workers"][2])
    group.addoption("--stableflow-no-scheduler", action="store_true", default=None, help="Start no scheduler.")
    group.addoption(
        "--stableflow-config", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="A setting of the test server (repeatable); wins over stableflow_config in the ini file.",
    )
    for name, (kind, default, help_text) in INI_OPTIONS.items():
        parser.addini(f"stableflow_{name}", help=help_text, type=kind, default=default)


# -- reading the options -----------------------------------------------------------------------
def _ini_path(config: pytest.Config, name: str) -> Path | None:
    """A path from the command line (relative to where pytest runs) or the ini file (relative to it)."""
    given = config.getoption(f"--stableflow-{name.replace('_', '-')}")
    if given:
        return Path(given).resolve()
    value = config.getini(f"stableflow_{name}")
    if not value:
        return None
    base = config.inipath.parent if config.inipath else config.rootpath
    return (base / value).resolve()


def _setting(config: pytest.Config, name: str) -> str:
    given = config.getoption(f"--stableflow-{name.replace('_', '-')}", default=None)
    return str(given if given is not None else config.getini(f"stableflow_{name}"))


def parse_settings(lines) -> dict[str, dict[str, str]]:
    """`section.key = value` (or `=` without spaces) lines as {section: {key: value}}."""
    settings: dict[str, dict[str, str]] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        section, dot, key = name.strip().partition(".")
        if not sep or not dot or not section or not key:
            raise pytest.UsageError(f"stableflow setting {line!r}: expected section.key = value")
        settings.setdefault(section.lower(), {})[key.strip().lower()] = value.strip()
    return settings


@pytest.fixture(scope="session")
def stableflow_dags_folder(pytestconfig) -> Path | None:
    """The DAG folder of the test server (None: an empty folder)."""
    return _ini_path(pytestconfig, "dags_folder")


@pytest.fixture(scope="session")
def stableflow_seed_file(pytestconfig) -> Path | None:
    """The seed file loaded before the session (None: only the admin user). May return a list."""
    return _ini_path(pytestconfig, "seed_file")


@pytest.fixture(scope="session")
def stableflow_config(pytestconfig) -> dict[str, dict[str, str]]:
    """More settings of the test server as {section: {key: value}}, e.g. {"metrics": {"enabled": "true"}}."""
    settings = parse_settings(pytestconfig.getini("stableflow_config"))
    for section, values in parse_settings(pytestconfig.getoption("--stableflow-config")).items():
        settings.setdefault(section, {}).update(values)
    return settings


# -- the server --------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stableflow() -> SimpleNamespace:
    """What the plugin uses of stableflow, imported on first use (never when the plugin loads), so
    that its import-time warnings cannot fail a project that runs with `filterwarnings = error`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sqlalchemy import create_engine

        from app.faults import parse_rules
        from app.scheduler.gate import hold_scheduler
        from app.snapshot import restore_snapshot, take_snapshot
    return SimpleNamespace(
        create_engine=create_engine, parse_rules=parse_rules, hold_scheduler=hold_scheduler,
        restore_snapshot=restore_snapshot, take_snapshot=take_snapshot,
    )


def _api_session(base: str, auth: tuple[str, str]):
    try:
        import requests
    except ImportError:
        raise RuntimeError("stableflow_server.session needs the requests package (pip install requests)") from None

    class ApiSession(requests.Session):
        """A requests session with the test user's credentials; paths starting with / are
        relative to the API (`session.get("/pools")`)."""

        def request(self, method, url, *args, **kwargs):
            if isinstance(url, str) and url.startswith("/"):
                url = base + url
            kwargs.setdefault("timeout", 30)
            return super().request(method, url, *args, **kwargs)

    session = ApiSession()
    session.auth = auth
    return session


@dataclass
class StableflowServer:
    """A running test server. `url` is its root, `api_url` its /api/v1; `auth` the Admin user's
    (username, password); `home` the folder holding its database, logs and configuration."""

    url: str
    home: Path
    env: dict
    username: str
    password: str
    processes: dict = field(default_factory=dict)
    _snapshot: dict | None = None
    _engine: object = None
    _session: object = None

    @property
    def api_url(self) -> str:
        return self.url + "/api/v1"

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)

    @property
    def database(self) -> Path:
        return self.home / "stableflow.db"

    @property
    def faults_file(self) -> Path:
        return self.home / "faults.rules"

    @property
    def session(self):
        """A `requests.Session` logged in as the Admin user; relative paths go to the API."""
        if self._session is None:
            self._session = _api_session(self.api_url, self.auth)
        return self._session

    # -- state --------------------------------------------------------------------------------
    def take_snapshot(self) -> None:
        """Remember the current state (database and task logs) as the one reset() puts back."""
        stableflow = _stableflow()
        if self._engine is None:
            self._engine = stableflow.create_engine(f"sqlite:///{self.database}", connect_args={"timeout": 30})
        self._snapshot = stableflow.take_snapshot(self._engine)
        shutil.rmtree(self.home / "seeded-logs", ignore_errors=True)
        if (self.home / "logs").exists():
            shutil.copytree(self.home / "logs", self.home / "seeded-logs")

    def reset(self) -> None:
        """Put back the seeded state, with the scheduler held between two loops; clear faults."""
        stableflow = _stableflow()
        with stableflow.hold_scheduler(str(self.database)):
            # The job table says which schedulers run now: it is not part of the seeded state.
            stableflow.restore_snapshot(self._engine, self._snapshot, keep=("job",))
            shutil.rmtree(self.home / "logs", ignore_errors=True)
            if (self.home / "seeded-logs").exists():
                shutil.copytree(self.home / "seeded-logs", self.home / "logs")
        self.clear_faults()

    # -- fault injection ----------------------------------------------------------------------
    def set_faults(self, *rules: str) -> None:
        """Replace the fault rules (docs/testing.md), e.g. set_faults("GET /api/v1/pools status=503").
        Every worker applies them from its next request on."""
        text = "\n".join(rules) + "\n"
        _stableflow().parse_rules(text)  # a mistake fails here, in the test, not silently in the server
        partial = self.faults_file.with_suffix(".tmp")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, self.faults_file)  # workers never read a half-written file

    def clear_faults(self) -> None:
        if self.faults_file.exists():
            self.faults_file.unlink()

    @contextlib.contextmanager
    def faults(self, *rules: str):
        """`with server.faults("* /api/v1/dags* latency=1"): ...`: the rules apply inside the block."""
        self.set_faults(*rules)
        try:
            yield self
        finally:
            self.clear_faults()

    # -- helpers ------------------------------------------------------------------------------
    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run `stableflow ARGS...` against this server's database and configuration."""
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args], env=self.env, capture_output=True, text=True,
            timeout=120, check=check,
        )

    def wait_for_dag_run(self, dag_id: str, run_id: str, states=("success", "failed"), timeout: float = 30.0) -> dict:
        """Poll the run until its state is one of `states`; return it (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        run: dict = {}
        while time.monotonic() < deadline:
            run = self._get_json(f"/dags/{dag_id}/dagRuns/{run_id}") or {}
            if run.get("state") in states:
                return run
            time.sleep(0.1)
        raise AssertionError(f"DAG run {dag_id}/{run_id} is {run.get('state')!r}, not in {states}, after {timeout}s")

    def _get_json(self, path: str, auth: bool = True):
        request = urllib.request.Request(self.api_url + path)
        if auth:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.load(response)
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the web server's and scheduler's logs, for failure messages."""
        parts = []
        for name in ("webserver", "scheduler"):
            path = self.home / f"{name}.log"
            if path.exists():
                parts.append(f"--- {name}.log ---\n" + path.read_text(errors="replace")[-chars:])
        return "\n".join(parts)

    # -- processes ----------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str]) -> None:
        with open(self.home / f"{name}.log", "ab") as log_file:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "app.cli", *args], env=self.env, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_ready(self, timeout: float, scheduler: bool) -> bool:
        """True once /health answers (with a healthy scheduler when one runs); False if the web
        server exited (its port was taken, say)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    if name == "webserver":
                        return False
                    raise RuntimeError(f"stableflow {name} exited at startup\n{self.log_tail()}")
            health = self._get_json("/health", auth=False)
            if health and (not scheduler or health["scheduler"]["status"] == "healthy"):
                return True
            time.sleep(0.1)
        raise RuntimeError(f"stableflow test server did not start within {timeout}s\n{self.log_tail()}")

    def stop(self) -> None:
        for name in ("scheduler", "webserver"):
            process = self.processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        if self._session is not None:
            self._session.close()
        if self._engine is not None:
            self._engine.dispose()


def _environment(home: Path, dags_folder: Path, options: dict, settings: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STABLEFLOW") and k != "PROMETHEUS_MULTIPROC_DIR"}
    values = {
        "database": {"sql_alchemy_conn": f"sqlite:///{home / 'stableflow.db'}"},
        "api": {"auth_backends": "auth_backends.basic_auth"},
        "core": {"dags_folder": str(dags_folder), "load_examples": str(options["load_examples"])},
        "scheduler": {
            "simulation_speed": options["simulation_speed"],
            "scheduler_heartbeat_sec": SCHEDULER_HEARTBEAT_SEC,
            "dag_dir_list_interval": "5",
        },
        "testing": {"fault_rules_file": str(home / "faults.rules")},
    }
    for section, pairs in settings.items():
        values.setdefault(section, {}).update(pairs)
    env["STABLEFLOW_HOME"] = str(home)
    for section, pairs in values.items():
        for key, value in pairs.items():
            env[f"STABLEFLOW__{section.upper()}__{key.upper()}"] = str(value)
    return env


def start_server(home: Path, *, dags_folder: Path | None, seed_files, settings: dict, options: dict) -> StableflowServer:
    """Migrate and seed a database in `home`, snapshot it, then serve it (and schedule)."""
    if "sql_alchemy_conn" in settings.get("database", {}):
        raise pytest.UsageError("the stableflow test server keeps its own SQLite database; drop database.sql_alchemy_conn")
    home.mkdir(parents=True, exist_ok=True)
    if dags_folder is None:
        dags_folder = home / "dags"
        dags_folder.mkdir(exist_ok=True)
    env = _environment(home, dags_folder, options, settings)
    server = StableflowServer(url="", home=home, env=env, username=options["username"], password=options["password"])
    admin = home / "stableflow-admin.json"
    admin.write_text(json.dumps({"users": {server.username: {
        "password": server.password, "roles": ["Admin"], "email": f"{server.username}@example.com",
    }}}))
    seeded = server.cli("seed", "--migrate", str(admin), *(str(path) for path in seed_files), check=False)
    if seeded.returncode != 0:
        raise RuntimeError(f"stableflow seed failed:\n{seeded.stderr[-3000:]}")
    server.take_snapshot()
    for _attempt in range(3):  # another process may take the free port before gunicorn binds it
        port = _free_port()
        server.url = f"http://127.0.0.1:{port}"
        server._spawn("webserver", ["webserver", "-p", str(port), "-H", "127.0.0.1", "-w", options["workers"]])
        if options["scheduler"] and "scheduler" not in server.processes:
            server._spawn("scheduler", ["scheduler"])
        try:
            if server._wait_ready(float(options["startup_timeout"]), options["scheduler"]):
                return server
        except BaseException:
            server.stop()
            raise
        server.processes.pop("webserver")
    server.stop()
    raise RuntimeError(f"stableflow web server could not start\n{server.log_tail()}")


def _seed_files(value) -> list[Path]:
    if value is None:
        return []
    return [Path(item) for item in value] if isinstance(value, (list, tuple)) else [Path(value)]


@pytest.fixture(scope="session")
def stableflow_server(pytestconfig, tmp_path_factory, stableflow_dags_folder, stableflow_seed_file, stableflow_config):
    """A real stableflow server (gunicorn + scheduler) for the whole session."""
    no_scheduler = pytestconfig.getoption("--stableflow-no-scheduler")
    options = {
        "simulation_speed": _setting(pytestconfig, "simulation_speed"),
        "workers": _setting(pytestconfig, "workers"),
        "scheduler": pytestconfig.getini("stableflow_scheduler") if no_scheduler is None else False,
        "load_examples": pytestconfig.getini("stableflow_load_examples"),
        "username": pytestconfig.getini("stableflow_username"),
        "password": pytestconfig.getini("stableflow_password"),
        "startup_timeout": pytestconfig.getini("stableflow_startup_timeout"),
    }
    server = start_server(
        tmp_path_factory.mktemp("stableflow"),
        dags_folder=Path(stableflow_dags_folder) if stableflow_dags_folder else None,
        seed_files=_seed_files(stableflow_seed_file),
        settings=stableflow_config,
        options=options,
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def stableflow_reset(stableflow_server) -> StableflowServer:
    """The test server, put back in its seeded state before the test."""
    stableflow_server.reset()
    return stableflow_server
