"""gunicorn settings for stableflow: `gunicorn -c config/gunicorn.conf.py 'app:create_app()'`."""
import os
import shutil
import tempfile

from app.config import load_config

_conf = load_config()

# With [metrics] enabled, each worker counts its requests into files of one folder that /metrics
# adds up (prometheus_client's multiprocess mode). Set before the app, and prometheus_client, load.
_metrics_dir = None
if _conf.getboolean("metrics", "enabled") and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _metrics_dir = tempfile.mkdtemp(prefix="stableflow-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

if _conf.get("logging", "format").lower() == "json":
    from gunicorn.glogging import Logger

    class JsonLinesLogger(Logger):
        """gunicorn's own lines (workers starting, stopping, timing out) as JSON lines too."""

        def setup(self, cfg):
            super().setup(cfg)
            from app.logging_setup import JsonFormatter

            for handler in self.error_log.handlers + self.access_log.handlers:
                handler.setFormatter(JsonFormatter())

    logger_class = JsonLinesLogger

bind = os.environ.get(
    "GUNICORN_BIND",
    f"{_conf.get('webserver', 'web_server_host')}:{_conf.getint('webserver', 'web_server_port')}",
)
workers = int(os.environ.get("GUNICORN_WORKERS", _conf.getint("webserver", "workers")))
# Sync workers: Connexion 2 is WSGI, and the handlers are short database calls.
worker_class = "sync"
timeout = _conf.getint("webserver", "web_server_worker_timeout")
# Build the app once in the master and fork it: workers share its memory and start at once.
preload_app = True
accesslog = None
errorlog = "-"


def post_fork(server, worker):
    # Database connections opened in the master must not be shared by the forked workers.
    from app.extensions import dispose_engine

    dispose_engine(server.app.wsgi())


def on_exit(server):
    if _metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
