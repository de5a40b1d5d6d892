from tests.dags.helpers import dag_folder  # noqa: F401
from tests.scheduler.helpers import scheduler  # noqa: F401
