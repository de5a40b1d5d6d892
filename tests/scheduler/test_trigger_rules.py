"""Each of Airflow's trigger rules, decided from upstream states."""
from __future__ import annotations

import pytest

from app.scheduler.trigger_rules import Decision, decide

S, F, UF, SK, N, R = "success", "failed", "upstream_failed", "skipped", None, "running"

CASES = [
    # rule, upstream states, decision
    ("all_success", [S, S], Decision.RUN),
    ("all_success", [S, R], Decision.WAIT),
    ("all_success", [S, F], Decision.UPSTREAM_FAILED),
    ("all_success", [S, UF], Decision.UPSTREAM_FAILED),
    ("all_success", [S, SK], Decision.SKIP),
    ("all_failed", [F, UF], Decision.RUN),
    ("all_failed", [F, N], Decision.WAIT),
    ("all_failed", [F, S], Decision.SKIP),
    ("all_failed", [F, SK], Decision.SKIP),
    ("all_done", [S, F, SK], Decision.RUN),
    ("all_done", [S, R], Decision.WAIT),
    ("all_skipped", [SK, SK], Decision.RUN),
    ("all_skipped", [SK, N], Decision.WAIT),
    ("all_skipped", [SK, S], Decision.SKIP),
    ("one_success", [S, R], Decision.RUN),
    ("one_success", [F, R], Decision.WAIT),
    ("one_success", [F, SK], Decision.UPSTREAM_FAILED),
    ("one_success", [SK, SK], Decision.SKIP),
    ("one_failed", [F, R], Decision.RUN),
    ("one_failed", [UF, N], Decision.RUN),
    ("one_failed", [S, R], Decision.WAIT),
    ("one_failed", [S, SK], Decision.SKIP),
    ("one_done", [S, N], Decision.RUN),
    ("one_done", [F, N], Decision.RUN),
    ("one_done", [SK, N], Decision.WAIT),
    ("one_done", [SK, SK], Decision.SKIP),
    ("none_failed", [S, SK], Decision.RUN),
    ("none_failed", [S, R], Decision.WAIT),
    ("none_failed", [S, F], Decision.UPSTREAM_FAILED),
    ("none_failed_min_one_success", [S, SK], Decision.RUN),
    ("none_failed_min_one_success", [SK, SK], Decision.SKIP),
    ("none_failed_min_one_success", [UF, S], Decision.UPSTREAM_FAILED),
    ("none_failed_min_one_success", [S, N], Decision.WAIT),
    ("none_skipped", [S, F], Decision.RUN),
    ("none_skipped", [S, SK], Decision.SKIP),
    ("none_skipped", [S, N], Decision.WAIT),
    ("always", [F, N], Decision.RUN),
    ("all_success", [], Decision.RUN),
]


@pytest.mark.parametrize(("rule", "states", "expected"), CASES)
def test_decide(rule, states, expected):
    assert decide(rule, states) is expected


def test_unknown_rule_is_an_error():
    with pytest.raises(ValueError, match="unknown trigger rule"):
        decide("sometimes", ["success"])
