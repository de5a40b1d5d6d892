"""The operator classes a DAG file may name, with what Airflow shows about them on the wire.

A task's `operator` is a class name from this table, or a dotted path (`my.module.MyOperator`)
for anything else. The table gives the module path (`class_ref`), the name Airflow shows as
`operator_name`, the UI colour and the operator's template fields, in Airflow's order.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OperatorInfo:
    module: str
    class_name: str
    operator_name: str
    ui_color: str = "#fff"
    template_fields: tuple[str, ...] = ()


_PYTHON_FIELDS = ("templates_dict", "op_args", "op_kwargs")
_CATALOG = [
    OperatorInfo("airflow.operators.empty", "EmptyOperator", "EmptyOperator", "#e8f7e4"),
    OperatorInfo("airflow.operators.bash", "BashOperator", "BashOperator", "#f0ede4", ("bash_command", "env", "cwd")),
    OperatorInfo("airflow.operators.python", "PythonOperator", "PythonOperator", "#ffefeb", _PYTHON_FIELDS),
    OperatorInfo("airflow.operators.python", "BranchPythonOperator", "BranchPythonOperator", "#ffefeb", _PYTHON_FIELDS),
    OperatorInfo("airflow.operators.python", "ShortCircuitOperator", "ShortCircuitOperator", "#ffefeb", _PYTHON_FIELDS),
    OperatorInfo(
        "airflow.operators.python", "PythonVirtualenvOperator", "PythonVirtualenvOperator", "#ffefeb",
        (*_PYTHON_FIELDS, "requirements"),
    ),
    OperatorInfo(
        "airflow.operators.trigger_dagrun", "TriggerDagRunOperator", "TriggerDagRunOperator", "#ffefeb",
        ("trigger_dag_id", "trigger_run_id", "logical_date", "conf", "wait_for_completion", "skip_when_already_exists"),
    ),
    OperatorInfo("airflow.operators.email", "EmailOperator", "EmailOperator", "#e6faf9", ("to", "subject", "html_content", "files")),
    OperatorInfo("airflow.sensors.time_delta", "TimeDeltaSensor", "TimeDeltaSensor", "#e6f1f2"),
    OperatorInfo(
        "airflow.sensors.external_task", "ExternalTaskSensor", "ExternalTaskSensor", "#4db7db",
        ("external_dag_id", "external_task_id", "external_task_ids", "external_task_group_id"),
    ),
    # What `@task` and its variants produce.
    OperatorInfo("airflow.decorators.python", "_PythonDecoratedOperator", "@task", "#ffefeb", _PYTHON_FIELDS),
    OperatorInfo(
        "airflow.decorators.python_virtualenv", "_PythonVirtualenvDecoratedOperator", "@task.virtualenv",
        "#ffefeb", (*_PYTHON_FIELDS, "requirements"),
    ),
    OperatorInfo(
        "airflow.decorators.external_python", "_PythonExternalDecoratedOperator", "@task.external_python",
        "#ffefeb", _PYTHON_FIELDS,
    ),
    OperatorInfo("airflow.decorators.bash", "_BashDecoratedOperator", "@task.bash", "#f0ede4", ("bash_command", "env", "cwd")),
]
OPERATORS = {info.class_name: info for info in _CATALOG}
# `@task`-style names are accepted too.
OPERATORS.update({info.operator_name: info for info in _CATALOG if info.operator_name.startswith("@")})


def operator_info(name: str) -> OperatorInfo | None:
    """The catalog entry for `name`, a synthetic entry for a dotted path, or None if unknown."""
    if name in OPERATORS:
        return OPERATORS[name]
    module, _, class_name = name.rpartition(".")
    if module and class_name and all(part.isidentifier() for part in name.split(".")):
        return OperatorInfo(module, class_name, class_name)
    return None
