"""docs/clients.md, run: its curl, HTTPie and official Python client examples
against a live server with the example DAGs and a scheduler, and the spec URL it tells Postman and
Insomnia users to import."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from tests.live import live_server, stop_process

# The server these tests start always uses SQLite: the run on another backend would repeat them.
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("STABLEFLOW_TEST_SQL_ALCHEMY_CONN")), reason="SQLite-only server; covered by the SQLite run"
)
DOC = Path(__file__).resolve().parents[2] / "docs" / "clients.md"
# HTTPie comes with the test extra: the one of this interpreter's environment (its bin/ need not be
# on PATH when pytest is run as .venv/bin/pytest), else the one on PATH.
HTTPIE = shutil.which("http", path=str(Path(sys.executable).parent)) or shutil.which("http")


def blocks(language: str) -> list[tuple[str, str]]:
    """(section title, code) of every fenced block in `language`, in document order."""
    found, section = [], ""
    for part in re.split(r"^(## .*)$", DOC.read_text(), flags=re.M):
        if part.startswith("## "):
            section = part[3:].strip()
            continue
        found += [(section, code) for code in re.findall(rf"^```{language}\n(.*?)^```", part, flags=re.M | re.S)]
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("clients")
    with live_server(home, CORE__LOAD_EXAMPLES="True", SCHEDULER__SIMULATION_SPEED="20",
                     SCHEDULER__SCHEDULER_HEARTBEAT_SEC="0.2") as server:
        with open(home / "scheduler.log", "wb") as log:
            scheduler = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "scheduler"], env=server.env, stdout=log, stderr=subprocess.STDOUT
            )
        server.extra_processes.append(scheduler)
        server.cli("dags", "reserialize")
        yield server
        stop_process(scheduler)


def httpie_config_dir(home: Path) -> Path:
    """A config of the test's own: no user settings, and no background check for HTTPie updates
    (it would call packages.httpie.io)."""
    folder = home / "httpie"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"disable_update_warnings": True}))
    return folder


def shell(server, code: str) -> subprocess.CompletedProcess:
    env = {**server.env, "SF": server.api, "AUTH": f"{server.username}:{server.password}",
           "HTTPIE": HTTPIE or "http", "HTTPIE_CONFIG_DIR": str(httpie_config_dir(server.home))}
    # As typed in a terminal: without one, HTTPie would read a request body from standard input.
    code = 'http() { "$HTTPIE" --ignore-stdin "$@"; }\n' + code
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code], env=env, capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_the_setup_block_defines_the_variables_the_others_use():
    (section, setup), *_ = blocks("bash")
    assert section == ""
    assert setup.splitlines()[0] == "SF=http://127.0.0.1:8080/api/v1"


@pytest.mark.parametrize("index", range(1, len(blocks("bash"))))
def test_shell_examples(server, index):
    section, code = blocks("bash")[index]
    assert section != "HTTPie" or HTTPIE, "HTTPie is missing: install the test extra (pip install -e '.[test]')"
    result = shell(server, code)
    assert result.returncode == 0, result.stderr
    shown = [line[2:] for line in code.splitlines() if line.startswith("# {") or line.startswith("#  ")]
    if shown:  # a block that shows the answer it gets
        assert json.loads(result.stdout) == json.loads("".join(shown))


def test_python_client_example(server):
    [(section, code)] = blocks("python")
    assert section.startswith("Python")
    env = {**server.env, "SF": server.api, "AUTH": f"{server.username}:{server.password}"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["from_python queued", "success"]
    assert "('runme_0', 'success')" in lines[2]


def test_the_spec_postman_and_insomnia_import(server):
    spec = yaml.safe_load(requests.get(server.api + "/openapi.yaml", timeout=10).text)
    assert spec["servers"] == [{"url": "/api/v1"}]
    assert "/dags/{dag_id}/dagRuns" in spec["paths"]
    assert requests.get(server.api + "/openapi.json", timeout=10).json()["paths"].keys() == spec["paths"].keys()


def test_blocks_are_found():
    assert [section for section, _ in blocks("bash")] == ["", "curl", "curl", "curl", "HTTPie"]
    assert os.path.basename(DOC) == "clients.md"
