"""gunicorn's configuration for the 巴州区 plan tracker (read from this folder: ``gunicorn -c gunicorn.conf.py``).

Every value can be changed through the environment (the same file as the application's, deploy/bazhou.env.example):

| variable | meaning | default |
|---|---|---|
| ``GUNICORN_BIND`` | address (or ``unix:/run/…sock``) to listen on, where the proxy forwards | ``127.0.0.1:8000`` |
| ``WEB_CONCURRENCY`` | worker processes: about 2 per core; each holds one database connection | ``2`` |
| ``GUNICORN_TIMEOUT`` | seconds before a silent worker is killed and restarted (exports finish sooner) | ``120`` |
| ``GUNICORN_MAX_REQUESTS`` | requests after which a worker is replaced (memory stays flat; 0 = never) | ``2000`` |

Sync workers: each request has a process and a database connection of its own (``CONN_MAX_AGE`` keeps it open
between requests). Logging: the application's configuration (bazhou/core/logredact.py): error and access log to
standard output, ID numbers redacted. Behind a proxy on another host, set ``FORWARDED_ALLOW_IPS`` to its address.
"""

import os
import sys
from pathlib import Path

# The project folder on the path, for the application and for the log filter loaded below.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bazhou.core.logredact import logging_config  # noqa: E402

wsgi_app = "bazhou.wsgi:application"
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
# Heartbeat files in memory, not on a disk that may stall (and under systemd's PrivateTmp).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No control socket ($HOME/.gunicorn/gunicorn.ctl): two servers on one machine would share its path.
control_socket_disable = True

# The access log names the client as the proxy saw it, the request, status, size and milliseconds taken.
# URLs never hold ID numbers (the ID-number search is a POST); the filter redacts any that a person typed.
accesslog = None  # configured by logconfig_dict below (standard output, through the filter)
access_log_format = '%({x-forwarded-for}i)s %(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
logconfig_dict = logging_config(os.environ.get("LOG_LEVEL", "INFO"))
