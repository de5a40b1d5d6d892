"""Airflow's run and task-instance states, and the groups the transitions reason about."""
from __future__ import annotations

from collections.abc import Iterable

from app.errors import BadRequest

QUEUED, RUNNING, SUCCESS, FAILED = "queued", "running", "success", "failed"
DAG_RUN_STATES = (QUEUED, RUNNING, SUCCESS, FAILED)
FINISHED_RUN_STATES = frozenset({SUCCESS, FAILED})

SCHEDULED, SKIPPED, UPSTREAM_FAILED, UP_FOR_RETRY = "scheduled", "skipped", "upstream_failed", "up_for_retry"
UP_FOR_RESCHEDULE, DEFERRED, REMOVED, RESTARTING = "up_for_reschedule", "deferred", "removed", "restarting"
TI_STATES = (
    SUCCESS, RUNNING, FAILED, UPSTREAM_FAILED, SKIPPED, UP_FOR_RETRY, UP_FOR_RESCHEDULE, QUEUED,
    SCHEDULED, DEFERRED, REMOVED, RESTARTING,
)
FINISHED_TI_STATES = frozenset({SUCCESS, FAILED, SKIPPED, UPSTREAM_FAILED, REMOVED})
# What "mark the run failed" fails; other unfinished task instances are skipped (as in Airflow).
RUNNING_TI_STATES = frozenset({RUNNING, DEFERRED, UP_FOR_RESCHEDULE})


def is_finished(state: str | None) -> bool:
    return state in FINISHED_TI_STATES


def parse_ti_states(values: Iterable[str | None] | None) -> list[str | None] | None:
    """Task-instance state filter values: `none` (or null) means no state; an unknown name is 400."""
    if not values:
        return None
    states: list[str | None] = []
    for value in values:
        if value in (None, "none"):
            states.append(None)
        elif value in TI_STATES:
            states.append(value)
        else:
            raise BadRequest(detail=f"'{value}' is not a valid TaskInstanceState")
    return states
