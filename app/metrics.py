"""GET /metrics in Prometheus text format, when `[metrics] enabled`.

Two kinds of figures, each right whichever gunicorn worker answers the scrape:

- requests (count and latency by operation, method and status) are counted by the worker that
  answers them; under gunicorn, config/gunicorn.conf.py points `PROMETHEUS_MULTIPROC_DIR` at a
  fresh folder before the app is loaded, so prometheus_client's multiprocess mode adds up every
  worker's counts (and those of workers that have exited);
- DAG runs and task instances by state, pool slots and the schedulers' heartbeat age and loop
  durations are read from the database at scrape time (schedulers write their loop figures into
  their `job` row with each heartbeat), so every API node reports the same numbers.

Access: like the API (the configured auth backends, 401 without credentials) with `can_read` on
`Cluster Activity` (Viewer and above), unless `[metrics] public`.
"""
from __future__ import annotations

import os
import time

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from app.config import Config
from app.errors import PermissionDenied
from app.extensions import db
from app.faults import DROP_KEY
from app.models import DagRun, Job, Pool, TaskInstance, utcnow
from app.rbac import RESOURCE_CLUSTER_ACTIVITY
from app.runs import states as S
from app.scheduler.executor import JOB_TYPE
from app.security import CAN_READ, require_identity

PATH = "/metrics"
_LABELS = ("operation", "method", "status")
# Not registered anywhere at import: each scrape builds its registry (see _registry()).
REQUESTS = Counter("stableflow_http_requests", "HTTP requests answered.", _LABELS, registry=None)
LATENCY = Histogram(
    "stableflow_http_request_duration_seconds", "Time to answer an HTTP request.", _LABELS, registry=None
)
UNMATCHED = "unmatched"


# -- requests ----------------------------------------------------------------------------------
def _operation(app: Flask) -> str:
    """The operationId of the request (the handler's name), or the route's view name."""
    rule = request.url_rule
    if rule is None:
        return UNMATCHED
    view = app.view_functions.get(rule.endpoint)
    return getattr(view, "__name__", rule.endpoint)


def _start_timer():
    g.stableflow_started = time.perf_counter()


def _observe(response):
    started = g.pop("stableflow_started", None)
    if started is not None:
        status = "dropped" if request.environ.get(DROP_KEY) else str(response.status_code)
        labels = (_operation(current_app), request.method, status)
        REQUESTS.labels(*labels).inc()
        LATENCY.labels(*labels).observe(time.perf_counter() - started)
    return response


# -- figures from the database -----------------------------------------------------------------
def _counts_by_state(column, states) -> dict[str, int]:
    counts = dict.fromkeys(states, 0)
    for state, count in db.session.execute(select(column, func.count()).group_by(column)):
        counts[state or "none"] = count
    return counts


class DatabaseCollector:
    """Runs, task instances, pools and schedulers, read when Prometheus scrapes."""

    def describe(self):
        return []  # registering this collector must not query the database

    def collect(self):
        runs = GaugeMetricFamily("stableflow_dag_runs", "DAG runs by state.", labels=["state"])
        for state, count in _counts_by_state(DagRun.state, S.DAG_RUN_STATES).items():
            runs.add_metric([state], count)
        yield runs
        tis = GaugeMetricFamily("stableflow_task_instances", "Task instances by state (none: no state yet).", labels=["state"])
        for state, count in _counts_by_state(TaskInstance.state, (*S.TI_STATES, "none")).items():
            tis.add_metric([state], count)
        yield tis
        yield from _pool_metrics()
        yield from _scheduler_metrics()


def _pool_metrics():
    # The pool endpoint's own arithmetic, so /metrics and GET /pools never disagree.
    from app.endpoints.pool_endpoint import _slot_counts, view_of

    size = GaugeMetricFamily("stableflow_pool_slots", "Slots of each pool (-1: unlimited).", labels=["pool"])
    open_ = GaugeMetricFamily("stableflow_pool_open_slots", "Open slots of each pool (-1: unlimited).", labels=["pool"])
    used = GaugeMetricFamily(
        "stableflow_pool_used_slots", "Slots taken in each pool, by task instance state.", labels=["pool", "state"]
    )
    pools = list(db.session.execute(select(Pool).order_by(Pool.pool)).scalars())
    counts = _slot_counts([pool.pool for pool in pools])
    for pool in pools:
        view = view_of(pool, counts.get(pool.pool, {}))
        size.add_metric([pool.pool], view["slots"])
        open_.add_metric([pool.pool], view["open_slots"])
        for state in ("running", "queued", "scheduled", "deferred"):
            used.add_metric([pool.pool, state], view[f"{state}_slots"])
    return size, open_, used


def _scheduler_metrics():
    labels = ["job_id", "hostname"]
    age = GaugeMetricFamily(
        "stableflow_scheduler_heartbeat_age_seconds", "Seconds since each running scheduler's last heartbeat.", labels=labels
    )
    loops = SummaryMetricFamily(
        "stableflow_scheduler_loop_duration_seconds", "Duration of each running scheduler's loops.", labels=labels
    )
    last = GaugeMetricFamily(
        "stableflow_scheduler_last_loop_duration_seconds", "Duration of each running scheduler's latest loop.", labels=labels
    )
    running = GaugeMetricFamily("stableflow_schedulers_running", "Scheduler jobs in the running state.")
    jobs = list(
        db.session.execute(select(Job).where(Job.job_type == JOB_TYPE, Job.state == S.RUNNING).order_by(Job.id)).scalars()
    )
    now = utcnow()
    for job in jobs:
        key = [str(job.id), job.hostname or ""]
        if job.latest_heartbeat is not None:
            age.add_metric(key, max((now - job.latest_heartbeat).total_seconds(), 0.0))
        loops.add_metric(key, count_value=job.loop_count or 0, sum_value=job.loop_seconds_total or 0.0)
        if job.last_loop_seconds is not None:
            last.add_metric(key, job.last_loop_seconds)
    running.add_metric([], len(jobs))
    return age, loops, last, running


# -- the endpoint ------------------------------------------------------------------------------
def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(DatabaseCollector())
    return registry


def _metrics_view(public: bool):
    def metrics():
        if not public and not require_identity().has(CAN_READ, RESOURCE_CLUSTER_ACTIVITY):
            raise PermissionDenied()
        body = generate_latest(_registry())
        return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    return metrics


def init_metrics(app: Flask, conf: Config) -> None:
    """Serve /metrics and time every request (create_app calls it when `[metrics] enabled`)."""
    app.before_request(_start_timer)
    app.after_request(_observe)
    app.add_url_rule(PATH, "stableflow_metrics", _metrics_view(conf.getboolean("metrics", "public")), methods=["GET"])
