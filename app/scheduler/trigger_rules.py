"""Airflow's trigger rules: may a task run, given the states of its upstream task instances?"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from enum import Enum

SUCCESS = "success"
FAILED = "failed"
UPSTREAM_FAILED = "upstream_failed"
SKIPPED = "skipped"
REMOVED = "removed"
DONE_STATES = frozenset({SUCCESS, FAILED, UPSTREAM_FAILED, SKIPPED, REMOVED})


class Decision(str, Enum):
    RUN = "run"
    WAIT = "wait"
    UPSTREAM_FAILED = "upstream_failed"
    SKIP = "skipped"


def decide(trigger_rule: str, upstream_states: Iterable[str | None]) -> Decision:
    """Decide for a task instance without a state from its upstream task instances' states
    (every map index of a mapped upstream task counts), as Airflow's TriggerRuleDep does.

    A task without upstream tasks always runs; `removed` upstreams count as done and nothing else.
    """
    states = list(upstream_states)
    total = len(states)
    if total == 0 or trigger_rule == "always":
        return Decision.RUN
    counts = Counter(states)
    success = counts[SUCCESS]
    skipped = counts[SKIPPED]
    failed = counts[FAILED]
    upstream_failed = counts[UPSTREAM_FAILED]
    removed = counts[REMOVED]
    done = success + skipped + failed + upstream_failed + removed
    all_done = done >= total
    # Removed upstreams are ignored by the "all" rules, as in Airflow.
    effective = total - removed

    if trigger_rule == "all_success":
        if failed or upstream_failed:
            return Decision.UPSTREAM_FAILED
        if skipped:
            return Decision.SKIP
        return Decision.RUN if all_done and success >= effective else Decision.WAIT
    if trigger_rule == "all_failed":
        if success or skipped:
            return Decision.SKIP
        return Decision.RUN if all_done else Decision.WAIT
    if trigger_rule in ("all_done", "all_done_setup_success"):
        return Decision.RUN if all_done else Decision.WAIT
    if trigger_rule == "all_skipped":
        if success or failed or upstream_failed:
            return Decision.SKIP
        return Decision.RUN if all_done else Decision.WAIT
    if trigger_rule == "one_success":
        if success:
            return Decision.RUN
        if all_done:
            return Decision.SKIP if skipped == done else Decision.UPSTREAM_FAILED
        return Decision.WAIT
    if trigger_rule == "one_failed":
        if failed or upstream_failed:
            return Decision.RUN
        return Decision.SKIP if all_done else Decision.WAIT
    if trigger_rule == "one_done":
        if success or failed:
            return Decision.RUN
        return Decision.SKIP if all_done else Decision.WAIT
    if trigger_rule == "none_failed":
        if failed or upstream_failed:
            return Decision.UPSTREAM_FAILED
        return Decision.RUN if all_done else Decision.WAIT
    if trigger_rule == "none_failed_min_one_success":
        if failed or upstream_failed:
            return Decision.UPSTREAM_FAILED
        if not all_done:
            return Decision.WAIT
        return Decision.SKIP if skipped >= effective else Decision.RUN
    if trigger_rule == "none_skipped":
        if skipped:
            return Decision.SKIP
        return Decision.RUN if all_done else Decision.WAIT
    raise ValueError(f"unknown trigger rule {trigger_rule!r}")
