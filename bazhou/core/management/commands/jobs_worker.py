"""``manage.py jobs_worker``: run background jobs (exports, registers, imports, bulletins, figures) until stopped.

django-tasks-db's worker (``db_worker``) with two additions of the product's: a heartbeat (``WorkerBeat``, every
few seconds, read by ``/healthz/``) and the reaping of jobs whose worker stopped (``bazhou.core.jobs.reap``), at
start and with each beat. Any number of workers on any number of machines may share one PostgreSQL database;
each takes one job at a time. ``make run`` starts one beside the web server; docs/deploy.md has its systemd unit.
"""

from __future__ import annotations

from django_tasks_db.management.commands import db_worker

from bazhou.core import jobs


class Command(db_worker.Command):
    help = "运行后台任务（导出、花名册、导入、通报、统计），直到被停止。"

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--beat", type=float, default=10.0, help="心跳间隔（秒），默认 10。")
        # No autoreload unless asked (--reload): the reloader's parent would beat as a second worker.
        parser.set_defaults(reload=False)

    def handle(self, *args, beat: float = 10.0, **options) -> None:
        worker_id, host, pid = jobs.worker_identity()
        options["worker_id"] = worker_id
        options.setdefault("queue_name", "default")
        jobs.current_worker_id = worker_id
        heart = jobs.Beat(worker_id=worker_id, host=host, pid=pid, every=max(1.0, beat))
        heart.start()
        try:
            super().handle(*args, **options)
        finally:
            heart.stop()
