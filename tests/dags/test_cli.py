"""`stableflow dags ...`."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from app.cli import cli


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("STABLEFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("STABLEFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("STABLEFLOW__CORE__LOAD_EXAMPLES", "False")
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "etl.yaml").write_text(
        "dags:\n"
        "  - dag_id: etl\n"
        "    owners: [ann]\n"
        "    tasks:\n"
        "      - {task_id: extract}\n"
        "      - {task_id: load-all, upstream: extract}\n"
        "  - dag_id: etl_daily\n"
    )
    (dags / "broken.yaml").write_text("dag_id: [\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "migrate"]).exit_code == 0
    return runner


def run(runner, *args, input=None):
    result = runner.invoke(cli, ["dags", *args], input=input)
    return result.exit_code, result.output


def test_reserialize_then_list(runner, tmp_path):
    code, output = run(runner, "reserialize")
    assert code == 0
    assert output.startswith(
        "Parsed 2 files: 2 DAGs, 1 files with import errors, 0 DAGs deactivated, 0 files gone\n"
    )
    code, output = run(runner, "list", "-o", "json")
    fileloc = str((tmp_path / "dags" / "etl.yaml").resolve())
    assert json.loads(output) == [
        {"dag_id": "etl", "fileloc": fileloc, "owners": "ann", "is_paused": True},
        {"dag_id": "etl_daily", "fileloc": fileloc, "owners": "", "is_paused": True},
    ]
    code, output = run(runner, "list")
    assert output.splitlines()[0].split() == ["dag_id", "fileloc", "owners", "is_paused"]
    code, output = run(runner, "list-import-errors", "-o", "json")
    broken = str((tmp_path / "dags" / "broken.yaml").resolve())
    assert json.loads(output) == [{
        "filepath": broken,
        "error": f"{broken}:2: YAML syntax error: while parsing a flow node expected the node content, but found '<stream end>'",
    }]


def test_pause_and_unpause(runner):
    run(runner, "reserialize")
    code, output = run(runner, "unpause", "etl", "-o", "json")
    assert (code, json.loads(output)) == (0, [{"dag_id": "etl", "is_paused": False}])
    assert run(runner, "pause", "^etl", "--treat-dag-id-as-regex", input="n\n")[0] == 1
    code, output = run(runner, "pause", "^etl", "--treat-dag-id-as-regex", "-y", "-o", "json")
    assert code == 0
    assert json.loads(output) == [
        {"dag_id": "etl", "is_paused": True}, {"dag_id": "etl_daily", "is_paused": True}
    ]
    code, output = run(runner, "pause", "nope")
    assert (code, output) == (1, "Error: No DAG matches 'nope'\n")


def test_show_prints_dot(runner):
    run(runner, "reserialize")
    code, output = run(runner, "show", "etl")
    assert (code, output) == (0, "\n".join([
        "digraph etl {",
        "\tgraph [label=etl labelloc=t rankdir=LR]",
        '\textract [color="#000" fillcolor="#e8f7e4" label=extract shape=rectangle style="filled,rounded"]',
        '\t"load-all" [color="#000" fillcolor="#e8f7e4" label="load-all" shape=rectangle style="filled,rounded"]',
        '\textract -> "load-all"',
        "}",
    ]) + "\n")
    code, output = run(runner, "show", "nope")
    assert code == 1


def test_delete(runner):
    run(runner, "reserialize")
    assert run(runner, "delete", "etl", input="n\n")[0] == 1
    assert run(runner, "delete", "etl", "-y") == (0, "Deleted DAG etl\n")
    code, output = run(runner, "list", "-o", "json")
    assert [d["dag_id"] for d in json.loads(output)] == ["etl_daily"]
    assert run(runner, "delete", "etl", "-y") == (1, "Error: Dag id etl not found\n")
    # The file still defines it: the next pass brings it back.
    run(runner, "reserialize")
    assert [d["dag_id"] for d in json.loads(run(runner, "list", "-o", "json")[1])] == ["etl", "etl_daily"]


def test_reserialize_shows_progress_for_big_folders(runner, tmp_path, monkeypatch):
    from app.commands import dags

    monkeypatch.setattr(dags, "PROGRESS_THRESHOLD", 1)
    code, output = run(runner, "reserialize")
    assert code == 0
    assert "Parsed 2 files" in output


def test_trigger(runner):
    pytest.importorskip("app.runs")
    run(runner, "reserialize")
    code, output = run(runner, "trigger", "etl", "-r", "mine", "-c", '{"x": 1}', "-e", "2024-05-01T00:00:00+00:00",
                       "-o", "json")
    assert code == 0, output
    assert json.loads(output) == [{
        "dag_id": "etl", "dag_run_id": "mine", "logical_date": "2024-05-01T00:00:00+00:00",
        "data_interval_start": "2024-05-01T00:00:00+00:00", "data_interval_end": "2024-05-01T00:00:00+00:00",
        "run_type": "manual", "state": "queued", "conf": {"x": 1},
    }]
    assert run(runner, "trigger", "etl", "-r", "mine") == (
        1, "Error: DAGRun with DAG ID: 'etl' and DAGRun ID: 'mine' already exists\n"
    )
    assert run(runner, "trigger", "nope") == (1, "Error: DAG with dag_id: 'nope' not found\n")
    assert run(runner, "trigger", "etl", "-c", "{bad")[0] == 1
