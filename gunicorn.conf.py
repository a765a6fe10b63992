"""Gunicorn settings for `gunicorn msp_program.wsgi -c gunicorn.conf.py`.

Environment: PORT (default 8000), WEB_CONCURRENCY (worker processes, default 2 x CPUs + 1, at
most 8), GUNICORN_THREADS (threads per worker, default 1), GUNICORN_TIMEOUT (seconds, default 30).
Logs go to stdout as one JSON object per line, like the application's own.
"""

import os

_cpus = os.cpu_count() or 1

bind = [f"0.0.0.0:{int(os.environ.get('PORT', '8000'))}"]
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * _cpus + 1, 8)))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so that a slow leak never grows without bound.
max_requests = 2000
max_requests_jitter = 200
# Heartbeat files in memory: a container's disk-backed /tmp can stall workers.
_shm = "/dev/shm"  # noqa: S108 - gunicorn's own advice for containers, not a temp file we create
worker_tmp_dir = _shm if os.path.isdir(_shm) else None
# No runtime control socket: nothing uses it in a container and $HOME may be read-only.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s "%(a)s"'
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "core.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        }
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
