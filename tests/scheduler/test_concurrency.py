"""What limits how much runs at once: pools and slots, max_active_tasks, parallelism,
max_active_runs; and what runs first: priority weights."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import TaskInstance


def parallel(count: int, **fields) -> str:
    extra = "".join(f", {key}: {value}" for key, value in fields.items())
    return "dag_id: d\ntasks:\n" + "".join(f"  - {{task_id: t{i}, duration: 10{extra}}}\n" for i in range(count))


def running_counts(scheduler, steps: int) -> list[int]:
    """How many task instances run after each of `steps` loops, 10 simulated seconds apart."""
    counts = []
    for _ in range(steps):
        scheduler.run()
        counts.append(sum(1 for state, _ in scheduler.tis().values() if state == "running"))
        scheduler.clock.advance(10)
    return counts


def test_a_pool_limits_how_many_task_instances_run_at_once(scheduler):
    scheduler.pool("small", 2)
    scheduler.dags(d=parallel(5, pool="small"))
    scheduler.loop.speed = 1
    scheduler.trigger("d")
    assert running_counts(scheduler, 4) == [2, 2, 1, 0]
    assert scheduler.run_row().state == "success"


def test_pool_slots_count_and_an_unlimited_pool_never_fills(scheduler):
    scheduler.pool("three", 3)
    scheduler.pool("unlimited", -1)
    scheduler.dags(d="""\
        dag_id: d
        max_active_tasks: 100
        tasks:
          - {task_id: big1, pool: three, pool_slots: 2, duration: 10}
          - {task_id: big2, pool: three, pool_slots: 2, duration: 10}
        """, e=parallel(6, pool="unlimited").replace("dag_id: d", "dag_id: e"))
    scheduler.loop.speed = 1
    scheduler.trigger("d")
    scheduler.trigger("e")
    scheduler.run()
    assert scheduler.states(dag_id="d") == {"big1": "running", "big2": "scheduled"}
    assert set(scheduler.states(dag_id="e").values()) == {"running"}


def test_a_task_in_a_missing_pool_waits(scheduler):
    scheduler.dags(d="dag_id: d\ntasks: [{task_id: t, pool: nowhere}]\n")
    scheduler.trigger("d")
    scheduler.run_until_idle()
    assert scheduler.tis() == {"t": ("scheduled", 1)}
    scheduler.pool("nowhere", 1)
    scheduler.run_until_idle()
    assert scheduler.tis() == {"t": ("success", 1)}


def test_max_active_tasks_limits_a_dags_running_task_instances(scheduler):
    scheduler.dags(d="max_active_tasks: 3\n" + parallel(5))
    scheduler.loop.speed = 1
    scheduler.trigger("d")
    assert running_counts(scheduler, 3) == [3, 2, 0]


def test_parallelism_limits_what_one_scheduler_runs(scheduler):
    scheduler.dags(d=parallel(5))
    scheduler.loop.speed = 1
    scheduler.loop.parallelism = 2
    scheduler.trigger("d")
    assert running_counts(scheduler, 4) == [2, 2, 1, 0]


def test_max_active_runs_keeps_further_runs_queued(scheduler):
    scheduler.dags(d="max_active_runs: 2\n" + parallel(1))
    scheduler.loop.speed = 1
    for day in range(1, 5):
        scheduler.trigger("d", f"r{day}", logical_date=scheduler.clock().replace(day=day, month=1))
    scheduler.run()
    assert scheduler.run_states() == {"r1": "running", "r2": "running", "r3": "queued", "r4": "queued"}
    scheduler.clock.advance(10)
    scheduler.run()
    assert scheduler.run_states() == {"r1": "success", "r2": "success", "r3": "running", "r4": "running"}


def test_higher_priority_weights_start_first_by_weight_rule(scheduler):
    scheduler.pool("single", 1)
    scheduler.dags(d="""\
        dag_id: d
        tasks:
          - {task_id: head, pool: single, duration: 1}
          - {task_id: middle, upstream: [head], pool: single, duration: 1}
          - {task_id: tail, upstream: [middle], pool: single, duration: 1}
          - {task_id: absolute, priority_weight: 5, weight_rule: absolute, pool: single, duration: 1}
          - {task_id: upstream_rule, priority_weight: 4, weight_rule: upstream, pool: single, duration: 1}
          - {task_id: plain, pool: single, duration: 1}
        """)
    scheduler.loop.speed = 1
    scheduler.trigger("d")
    for _ in range(6):
        scheduler.run()
        scheduler.clock.advance(1)
    weights = dict(db.session.execute(select(TaskInstance.task_id, TaskInstance.priority_weight)).all())
    order = db.session.execute(select(TaskInstance.task_id).order_by(TaskInstance.start_date)).scalars().all()
    # head weighs 3 (itself and its two downstream tasks).
    assert weights == {"head": 3, "middle": 2, "tail": 1, "absolute": 5, "upstream_rule": 4, "plain": 1}
    assert order[:4] == ["absolute", "upstream_rule", "head", "middle"]
    assert set(order[4:]) == {"tail", "plain"}  # equal weights
