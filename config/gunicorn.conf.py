"""gunicorn settings for stableflow: `gunicorn -c config/gunicorn.conf.py 'app:create_app()'`."""
import os

from app.config import load_config

_conf = load_config()

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
