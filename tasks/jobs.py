"""Background jobs of the plan table: the one table of more than one village (a township, the district), written
by a worker with a progress bar instead of inside the request. A village's table stays a direct download.

The import pages' jobs (check, write) are declared with the pages (``bazhou.core.xlsx.import_views``); importing
``tasks.excel_views`` here registers the plan import for the worker, which loads no URLs."""

from __future__ import annotations

from bazhou.core import clock, jobs
from bazhou.core.exportlog import record_export
from tasks import excel_views
from tasks.exports import render_plan_table


@jobs.register(excel_views.PLAN_TABLE_JOB)
def plan_table(job, progress) -> jobs.Outcome:
    """The one table the job's parameters ask for, seen as its user sees it now (area and masking rechecked)."""
    scope = excel_views.plan_table_scope(job.user, job.params)
    file, rows = render_plan_table(scope, clock.today(), progress=progress)
    log = record_export(job.user, remote_addr=job.params.get("_client"), **scope.export_log(rows))
    return jobs.Outcome(file=file, name=scope.file_name, note=f"共 {rows:,} 行任务。", export_log=log)
