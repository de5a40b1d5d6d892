"""The example DAGs shipped in the package parse cleanly and have Airflow's shapes."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.config import load_config
from app.dags import processor
from app.dags.parser import ParseDefaults, parse_source
from app.extensions import db
from app.models import DagModel, Dataset, ImportErrorRecord
from tests.conftest import base_overrides

EXAMPLES = sorted(processor.EXAMPLES_FOLDER.glob("*.yaml"))


def parsed_examples() -> dict:
    specs = {}
    for path in EXAMPLES:
        result = parse_source(path.read_text(), str(path), ParseDefaults())
        assert result.errors == []
        specs.update((spec.dag_id, spec) for spec in result.dags)
    return specs


def edges(spec) -> set[tuple[str, str]]:
    return {(up, task.task_id) for task in spec.tasks for up in task.upstream}


def test_examples_parse_without_errors():
    assert set(parsed_examples()) == {
        "example_bash_operator", "tutorial", "example_python_operator", "dataset_produces_1",
        "dataset_produces_2", "dataset_consumes_1", "dataset_consumes_1_and_2",
        "example_dynamic_task_mapping", "example_failure_and_retry",
    }


def test_example_bash_operator_has_airflows_shape():
    spec = parsed_examples()["example_bash_operator"]
    assert sorted(spec.task_ids) == [
        "also_run_this", "run_after_loop", "run_this_last", "runme_0", "runme_1", "runme_2", "this_will_skip"
    ]
    assert edges(spec) == {
        ("runme_0", "run_after_loop"), ("runme_1", "run_after_loop"), ("runme_2", "run_after_loop"),
        ("run_after_loop", "run_this_last"), ("also_run_this", "run_this_last"), ("this_will_skip", "run_this_last"),
    }
    assert {t.task_id: t.trigger_rule for t in spec.tasks} == dict.fromkeys(spec.task_ids, "all_success")
    assert spec.task("this_will_skip").outcome == "skipped"
    assert (spec.schedule_interval, spec.catchup, spec.tags, spec.dagrun_timeout) == (
        {"__type": "CronExpression", "value": "0 0 * * *"}, False, ["example", "example2"], 3600.0
    )
    assert spec.params["example_key"].value == "example_value"


def test_tutorial_and_python_operator_shapes():
    specs = parsed_examples()
    tutorial = specs["tutorial"]
    assert edges(tutorial) == {("print_date", "sleep"), ("print_date", "templated")}
    assert (tutorial.schedule_interval, [t.retries for t in tutorial.tasks]) == (
        {"__type": "TimeDelta", "days": 1, "seconds": 0, "microseconds": 0}, [1, 3, 1]
    )
    python = specs["example_python_operator"]
    assert {t.operator_name for t in python.tasks} == {"@task", "@task.virtualenv", "@task.external_python"}
    assert python.task("virtualenv_python").upstream == ["sleep_for_4", "external_python"]


def test_dataset_mapped_and_failing_examples():
    specs = parsed_examples()
    assert specs["dataset_produces_1"].tasks[0].outlets == ["s3://dag1/output_1.txt"]
    assert specs["dataset_consumes_1_and_2"].dataset_triggers == ["s3://dag1/output_1.txt", "s3://dag2/output_1.txt"]
    assert specs["example_dynamic_task_mapping"].task("add_one").expand == {"x": [1, 2, 3]}
    failing = specs["example_failure_and_retry"]
    assert [(t.task_id, t.outcome, t.retries) for t in failing.tasks if t.outcome != "success"] == [
        ("flaky_task", "flaky", 2), ("always_fails", "failed", 1)
    ]


@pytest.mark.parametrize("spec", parsed_examples().values(), ids=lambda s: s.dag_id)
def test_examples_finish_within_seconds(spec):
    # The longest chain of maximum durations, retries included, stays short.
    def finish(task_id: str) -> float:
        task = spec.task(task_id)
        tries = 1 + (task.fail_tries if task.outcome == "flaky" else task.retries if task.outcome == "failed" else 0)
        own = task.duration[1] * tries + (tries - 1) * task.retry_delay
        return own + max((finish(u) for u in task.upstream), default=0.0)

    assert max(finish(t) for t in spec.task_ids) <= 5


def test_examples_load_with_load_examples(app_ctx, tmp_path):
    conf = load_config(base_overrides(core={"dags_folder": str(tmp_path), "load_examples": True}))
    processor.process_folder(conf)
    active = set(db.session.execute(select(DagModel.dag_id).where(DagModel.is_active)).scalars())
    assert active == set(parsed_examples())
    assert db.session.execute(select(ImportErrorRecord)).scalars().all() == []
    assert len(db.session.execute(select(Dataset)).scalars().all()) == 3
    off = load_config(base_overrides(core={"dags_folder": str(tmp_path), "load_examples": False}))
    processor.process_folder(off)
    assert db.session.execute(select(DagModel.dag_id).where(DagModel.is_active)).scalars().all() == []


def test_the_documented_examples_parse():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for doc in ("README.md", "docs/dag-files.md"):
        for block in re.findall(r"```yaml\n(.*?)```", (root / doc).read_text(), re.S):
            if "dag_id" not in block:
                block = "dag_id: fragment\n" + block
            assert parse_source(block, doc, ParseDefaults()).errors == [], block
