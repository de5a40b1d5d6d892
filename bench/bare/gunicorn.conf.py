"""gunicorn settings of the bare app: stableflow's worker settings (config/gunicorn.conf.py), so
that the two servers differ only in the application they serve."""
import runpy
from pathlib import Path

_ours = runpy.run_path(str(Path(__file__).resolve().parents[2] / "config" / "gunicorn.conf.py"))
for _name in ("worker_class", "threads", "keepalive", "preload_app", "timeout", "backlog"):
    if _name in _ours:
        globals()[_name] = _ours[_name]
accesslog = None
errorlog = "-"
