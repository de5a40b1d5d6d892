"""Task logs: one file per try under `[logging] base_log_folder`, in Airflow's default layout

    dag_id=<dag>/run_id=<run>/task_id=<task>/[map_index=<n>/]attempt=<try>.log

The scheduler appends a try's lines with `write_try_log` (formatted by `format_log_line`, Airflow's
line format); the API reads them back. The ids in the path are validated where they are created
(DAG files, run ids), and each one sits behind its `name=` prefix, so no id can leave the folder.
"""
from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterable
from pathlib import Path

from app.models import utcnow


def base_folder(conf) -> Path:
    return Path(conf.get("logging", "base_log_folder")).expanduser()


def try_log_path(conf, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> Path:
    mapped = f"map_index={map_index}/" if map_index >= 0 else ""
    relative = f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}/{mapped}attempt={try_number}.log"
    return base_folder(conf) / relative


def format_log_line(
    message: str, *, when: dt.datetime | None = None, level: str = "INFO", source: str = "taskinstance.py:0"
) -> str:
    """`[2024-01-01T00:00:00.000+0000] {taskinstance.py:0} INFO - message`, as Airflow writes."""
    when = (when or utcnow()).astimezone(dt.timezone.utc)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"
    return f"[{stamp}] {{{source}}} {level} - {message}"


def write_try_log(conf, ti, lines: Iterable[str], *, try_number: int | None = None) -> Path:
    """Append `lines` to the log of a task instance's try (its current one by default)."""
    path = try_log_path(conf, ti.dag_id, ti.run_id, ti.task_id, ti.map_index, try_number or ti.try_number)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.writelines(f"{line}\n" for line in lines)
    return path


def read_try_log(path: Path) -> str | None:
    """The text of a log file, or None when the try wrote none."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None


def delete_run_logs(conf, dag_id: str, run_id: str) -> None:
    shutil.rmtree(base_folder(conf) / f"dag_id={dag_id}" / f"run_id={run_id}", ignore_errors=True)
