"""`stableflow dags list-runs`, `stableflow tasks states-for-dag-run` and `stableflow tasks clear`."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app import runs
from app.cli import app_context, cli
from app.extensions import db
from app.models import DagRun, TaskInstance
from tests.runs.helpers import PIPELINE


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("STABLEFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("STABLEFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("STABLEFLOW__CORE__LOAD_EXAMPLES", "False")
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "pipeline.yaml").write_text(PIPELINE)
    runner = CliRunner()
    for args in (["db", "migrate"], ["dags", "reserialize"]):
        assert runner.invoke(cli, args).exit_code == 0
    for run_id, date in (("r1", "2024-01-01T00:00:00+00:00"), ("r2", "2024-01-02T00:00:00+00:00")):
        result = runner.invoke(cli, ["dags", "trigger", "pipeline", "-r", run_id, "-e", date])
        assert result.exit_code == 0, result.output
    return runner


def invoke(runner, *args, input=None):
    result = runner.invoke(cli, list(args), input=input)
    return result.exit_code, result.output


def set_state(run_id: str, task_id: str, state: str) -> None:
    with app_context():
        ti = db.session.execute(
            select(TaskInstance).where(TaskInstance.run_id == run_id, TaskInstance.task_id == task_id)
        ).scalar_one()
        runs.mark_scheduled(ti)
        runs.mark_ti_state(ti, state)
        db.session.commit()


def test_list_runs_newest_first_with_filters(runner):
    code, output = invoke(runner, "dags", "list-runs", "-d", "pipeline", "-o", "json")
    assert code == 0
    assert [(r["run_id"], r["state"], r["execution_date"]) for r in json.loads(output)] == [
        ("r2", "queued", "2024-01-02T00:00:00+00:00"), ("r1", "queued", "2024-01-01T00:00:00+00:00"),
    ]
    code, output = invoke(runner, "dags", "list-runs", "-d", "pipeline", "-o", "json", "-e", "2024-01-01T12:00:00")
    assert [r["run_id"] for r in json.loads(output)] == ["r1"]
    code, output = invoke(runner, "dags", "list-runs", "-d", "pipeline", "-s", "2024-01-02", "--state", "queued")
    assert output.splitlines()[0].split() == ["dag_id", "run_id", "state", "execution_date", "start_date", "end_date"]
    assert [line.split()[1] for line in output.splitlines()[2:]] == ["r2"]
    assert invoke(runner, "dags", "list-runs", "-d", "nope") == (0, "No data found\n")
    code, output = invoke(runner, "dags", "list-runs", "-d", "pipeline", "-s", "yesterday")
    assert code == 2
    assert "Invalid value" in output


def test_states_for_dag_run(runner):
    set_state("r1", "extract", "success")
    code, output = invoke(runner, "tasks", "states-for-dag-run", "pipeline", "r1", "-o", "json")
    assert code == 0
    assert [(r["task_id"], r["map_index"], r["state"]) for r in json.loads(output)] == [
        ("extract", -1, "success"), ("load", -1, ""), ("transform", 0, ""), ("transform", 1, ""), ("transform", 2, ""),
    ]
    code, output = invoke(runner, "tasks", "states-for-dag-run", "pipeline", "nope")
    assert (code, output) == (1, "Error: DagRun nope of DAG pipeline does not exist\n")


def test_clear_resets_matching_task_instances_and_queues_their_runs(runner):
    set_state("r1", "extract", "failed")
    set_state("r2", "extract", "success")
    code, output = invoke(runner, "tasks", "clear", "pipeline", "-t", "^ext", "-f", "-d", "-y")
    assert code == 0
    assert output == (
        "<TaskInstance: pipeline.extract r1 map_index=-1 [failed]>\nCleared 1 task instances\n"
    )
    with app_context():
        states = dict(db.session.execute(
            select(TaskInstance.run_id, TaskInstance.state).where(TaskInstance.task_id == "extract")
        ).tuples().all())
        assert states == {"r1": None, "r2": "success"}
        assert db.session.execute(select(DagRun.clear_number).where(DagRun.run_id == "r1")).scalar_one() == 1


def test_clear_asks_first_and_says_when_nothing_matches(runner):
    set_state("r1", "load", "failed")
    code, output = invoke(runner, "tasks", "clear", "pipeline", "-t", "load", input="n\n")
    assert code == 0
    assert output.endswith("[None]>\nClear these 2 task instances? [y/N]: n\nCancelled, nothing was cleared.\n")
    code, output = invoke(runner, "tasks", "clear", "pipeline", "-r", "-y")
    assert (code, output) == (0, "No task instances to clear\n")
    code, output = invoke(runner, "tasks", "clear", "nope", "-y")
    assert (code, output) == (1, "Error: DAG nope not found\n")
    code, output = invoke(runner, "tasks", "clear", "pipeline", "-t", "(", "-y")
    assert code == 2
