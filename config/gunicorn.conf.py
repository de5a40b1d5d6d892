"""gunicorn settings for stableflow: `gunicorn -c config/gunicorn.conf.py 'app:create_app()'`."""
import gc
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
# Sync workers: one request at a time per worker, and a new connection per request (no keep-alive).
# Measured against gthread workers with keep-alive (bench/README.md): kept-alive connections stay
# with the worker that accepted them, so with a few clients one worker could take them all while
# the other idled, and p99 latency was 2-3x worse; a sync worker accepts only when it is free, so
# the load spreads by itself. The handlers are short, CPU-bound database calls: threads would
# only fight over the GIL. GUNICORN_CMD_ARGS overrides any of this.
worker_class = "sync"
timeout = _conf.getint("webserver", "web_server_worker_timeout")
# Build the app once in the master and fork it: workers share its memory and start at once.
preload_app = True
accesslog = None
errorlog = "-"
# gunicorn 27's control socket (show config, add or kill workers) is one path per user,
# ~/.gunicorn/gunicorn.ctl, shared by every server on the machine: a second server takes it over
# and the first one's exit removes it. stableflow needs none of it. (Older gunicorns ignore this.)
control_socket_disable = True


def pre_fork(server, worker):
    # Move the preloaded app's objects out of the garbage collector's reach: a collection in a
    # worker would otherwise write to every one of them and copy the pages it shares with the master.
    gc.freeze()


def post_fork(server, worker):
    # Database connections opened in the master must not be shared by the forked workers.
    from app.extensions import dispose_engine

    dispose_engine(server.app.wsgi())


def on_exit(server):
    if _metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
