from __future__ import annotations

import datetime as dt
import logging

from flask import current_app
from sqlalchemy import select, text

from app.extensions import db
from app.models import Job, utcnow
from app.schemas.health_schema import health_schema
from app.security import public

log = logging.getLogger(__name__)

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"


def _latest_heartbeat(job_type: str) -> dt.datetime | None:
    stmt = (
        select(Job.latest_heartbeat)
        .where(Job.job_type == job_type)
        .order_by(Job.latest_heartbeat.desc())
        .limit(1)
    )
    return db.session.execute(stmt).scalar()


@public
def get_health():
    """Report the metadatabase and scheduler status."""
    conf = current_app.extensions["stableflow.conf"]
    threshold = conf.getint("scheduler", "scheduler_health_check_threshold")
    metadatabase, scheduler, heartbeat = HEALTHY, UNHEALTHY, None
    try:
        db.session.execute(text("SELECT 1"))
        heartbeat = _latest_heartbeat("SchedulerJob")
        if heartbeat is not None and (utcnow() - heartbeat).total_seconds() < threshold:
            scheduler = HEALTHY
    except Exception:  # any database failure is what this endpoint reports
        log.exception("Health check query failed")
        db.session.rollback()
        metadatabase = UNHEALTHY
    return health_schema.dump(
        {
            "metadatabase": {"status": metadatabase},
            "scheduler": {"status": scheduler, "latest_scheduler_heartbeat": heartbeat},
            "triggerer": {"status": None, "latest_triggerer_heartbeat": None},
            "dag_processor": {"status": None, "latest_dag_processor_heartbeat": None},
        }
    )
