"""All tables; importing this module registers every model on Base.metadata."""
from app.models.base import Base, UtcDateTime, utcnow
from app.models.dag import (
    DagCode,
    DagModel,
    DagPriorityParsingRequest,
    DagTag,
    DagWarning,
    ImportErrorRecord,
    SerializedDag,
)
from app.models.dag_run import DagRun, Job, TaskInstance, TaskInstanceHistory, XCom
from app.models.dataset import (
    DagScheduleDatasetReference,
    Dataset,
    DatasetDagRunQueue,
    DatasetEvent,
    TaskOutletDatasetReference,
    dagrun_dataset_event,
)
from app.models.resources import Connection, EventLog, Pool, Variable
from app.models.security import (
    Action,
    Permission,
    RbacRevision,
    Resource,
    Role,
    User,
    role_permissions,
    user_roles,
)

__all__ = [
    "Action", "Base", "Connection", "DagCode", "DagModel", "DagPriorityParsingRequest", "DagRun",
    "DagScheduleDatasetReference", "DagTag", "DagWarning", "Dataset", "DatasetDagRunQueue",
    "DatasetEvent", "EventLog", "ImportErrorRecord", "Job", "Permission", "Pool", "RbacRevision", "Resource", "Role",
    "SerializedDag", "TaskInstance", "TaskInstanceHistory", "TaskOutletDatasetReference", "User",
    "UtcDateTime", "Variable", "XCom", "dagrun_dataset_event", "role_permissions", "user_roles", "utcnow",
]
