"""The pytest plugin as a user meets it: installed with the package (entry point `stableflow`),
inert until its fixtures are used, configured from the ini file, the command line or conftest
overrides, and the example project under examples/ passing against a real server."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_stableflow import parse_settings

# The servers these tests start always use SQLite: the run on another backend would repeat them.
sqlite_only = pytest.mark.skipif(
    bool(os.environ.get("STABLEFLOW_TEST_SQL_ALCHEMY_CONN")), reason="SQLite-only server; covered by the SQLite run"
)
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pytest_project"


def run_pytest(folder: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """pytest in a project folder of its own, with nothing of this test session's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STABLEFLOW", "PYTEST_", "PROMETHEUS_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=folder, env=env,
        capture_output=True, text=True, timeout=timeout,
    )


def write(folder: Path, **files: str) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return folder


@sqlite_only
def test_the_example_project_passes():
    result = run_pytest(EXAMPLE, "-q")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    assert "19 passed" in result.stdout


@sqlite_only
def test_loading_the_plugin_imports_nothing_of_stableflow(tmp_path):
    write(tmp_path, **{
        "pytest.ini": "[pytest]\n",
        "test_inert.py": """\
            import sys

            def test_plugin_loaded_app_not_imported(pytestconfig):
                assert pytestconfig.pluginmanager.has_plugin("stableflow")
                assert "app" not in sys.modules
                assert not any(name.startswith(("app.", "flask", "connexion")) for name in sys.modules)
            """,
    })
    result = run_pytest(tmp_path, "-q")
    assert result.returncode == 0, result.stdout + result.stderr


@sqlite_only
def test_it_can_be_disabled(tmp_path):
    write(tmp_path, **{"pytest.ini": "[pytest]\n", "test_x.py": "def test_x(stableflow_server):\n    pass\n"})
    result = run_pytest(tmp_path, "-q", "-p", "no:stableflow")
    assert result.returncode == 1
    assert "fixture 'stableflow_server' not found" in result.stdout


@sqlite_only
def test_command_line_options_and_conftest_overrides(tmp_path):
    write(tmp_path, **{
        "pytest.ini": """\
            [pytest]
            stableflow_username = root
            stableflow_password = r00t
            stableflow_workers = 1
            stableflow_config =
                metrics.public = true
            """,
        "flows/hello.yaml": "dag_id: hello\ntasks: [{task_id: say}]\n",
        "conftest.py": """\
            import pytest

            @pytest.fixture(scope="session")
            def stableflow_dags_folder(pytestconfig):
                return pytestconfig.rootpath / "flows"

            @pytest.fixture(scope="session")
            def stableflow_seed_file(tmp_path_factory):
                first = tmp_path_factory.mktemp("seeds") / "a.json"
                first.write_text('{"variables": {"who": "conftest"}, "dags": {"hello": {"is_paused": false}}}')
                return [first]
            """,
        "test_server.py": """\
            def test_settings(stableflow_server):
                session = stableflow_server.session
                assert stableflow_server.auth == ("root", "r00t")
                assert session.get("/variables/who").json()["value"] == "conftest"
                assert session.get("/dags/hello").json()["is_paused"] is False
                assert session.get("/health").json()["scheduler"]["status"] == "unhealthy"
                # [metrics] enabled from the command line, public from the ini file.
                assert stableflow_server.session.get(stableflow_server.url + "/metrics", auth=None).status_code == 200
            """,
    })
    result = run_pytest(tmp_path, "-q", "--stableflow-no-scheduler", "--stableflow-config", "metrics.enabled=true")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]


@sqlite_only
def test_a_failing_seed_fails_the_fixture_with_its_message(tmp_path):
    write(tmp_path, **{
        "pytest.ini": "[pytest]\nstableflow_seed_file = seed.yaml\n",
        "seed.yaml": "pools: {p: {slots: -7}}\n",
        "test_x.py": "def test_x(stableflow_server):\n    pass\n",
    })
    result = run_pytest(tmp_path, "-q")
    assert result.returncode == 1
    assert "stableflow seed failed" in result.stdout
    assert "pools.p: {'slots': ['Slots must be -1" in result.stdout


@pytest.mark.parametrize(
    ("lines", "settings"),
    [
        (["metrics.enabled = true", "  # comment", "", "Testing.Fault_Seed=8"],
         {"metrics": {"enabled": "true"}, "testing": {"fault_seed": "8"}}),
        (["testing.fault_rules = GET /api/v1/pools status=503 p=0.5"],
         {"testing": {"fault_rules": "GET /api/v1/pools status=503 p=0.5"}}),
    ],
)
def test_settings_lines(lines, settings):
    assert parse_settings(lines) == settings


@pytest.mark.parametrize("line", ["metrics = true", "metrics.enabled", ".x = 1"])
def test_bad_settings_lines(line):
    with pytest.raises(pytest.UsageError, match="expected section.key = value"):
        parse_settings([line])
