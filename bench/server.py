"""gunicorn for the load benchmarks (bench/api.py, bench/load.py): started with the project's gunicorn.conf.py on a
free port of 127.0.0.1 against a given database, production settings but plain HTTP, and stopped again."""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from seed import BenchError

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DEMO_TODAY = "2017-09-15"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_gunicorn(database_url: str, port: int, workers: int, log_path: Path, **env) -> subprocess.Popen:
    """gunicorn with ``workers`` sync workers on ``port``, its output in ``log_path``; returns once /healthz/
    answers 200. ``env`` adds or overrides environment variables (e.g. ``LOG_LEVEL``, ``STATIC_ROOT``)."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": f"{HOST},testserver",
        "CONN_MAX_AGE": "600",
        "SECURE_COOKIES": "0",  # plain HTTP on 127.0.0.1: no secure cookies, no HTTPS redirect, no HSTS
        "BAZHOU_TODAY": DEMO_TODAY,
        "LOG_LEVEL": "WARNING",
        "GUNICORN_BIND": f"{HOST}:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_MAX_REQUESTS": "0",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited ({process.returncode}); see {log_path}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            connection.request("GET", "/healthz/")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.3)
    stop_gunicorn(process)
    raise BenchError(f"gunicorn did not answer /healthz/ within 60 s; see {log_path}")


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
