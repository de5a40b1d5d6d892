"""Run counts per state for a list of DAGs."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import DagModel, DagRun
from app.queries import split_csv
from app.schemas.dag_stats_schema import dag_stats_collection_schema
from app.security import current_identity, dag_access, requires_access

# Airflow's DagRunState, in its order; every state is listed, with 0 when no run has it.
RUN_STATES = ("queued", "running", "success", "failed")


@requires_access(dag_access("GET", "RUN"))
def get_dag_stats(*, dag_ids):
    """Count the runs of each listed DAG by state; unknown and unreadable DAGs are left out."""
    wanted = list(dict.fromkeys(split_csv(dag_ids)))
    permitted = current_identity().permitted_dag_ids(("GET",))
    if permitted is not None:
        wanted = [d for d in wanted if d in permitted]
    known = set(db.session.execute(select(DagModel.dag_id).where(DagModel.dag_id.in_(wanted))).scalars())
    ids = [d for d in wanted if d in known]
    counts = {
        (dag_id, state): count
        for dag_id, state, count in db.session.execute(
            select(DagRun.dag_id, DagRun.state, func.count())
            .where(DagRun.dag_id.in_(ids))
            .group_by(DagRun.dag_id, DagRun.state)
        )
    }
    dags = [
        {"dag_id": dag_id, "stats": [{"state": s, "count": counts.get((dag_id, s), 0)} for s in RUN_STATES]}
        for dag_id in ids
    ]
    return dag_stats_collection_schema.dump({"dags": dags, "total_entries": len(dags)})
