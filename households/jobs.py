"""Background jobs of the registry: the household register of more than one village (a township, the district:
70,000 members at the demo's size, ten times that in a large district), written by a worker with a progress bar.
A village's register stays a direct download. Importing ``households.excel_views`` registers the register import
for the worker, which loads no URLs."""

from __future__ import annotations

from bazhou.core import clock, jobs
from bazhou.core.exportlog import record_export
from households import excel_views
from households.exports import render_register


@jobs.register(excel_views.REGISTER_JOB)
def register(job, progress) -> jobs.Outcome:
    """The register the job's parameters ask for, seen as its user sees it now (area and ID-number masking)."""
    scope = excel_views.register_scope(job.user, job.params)
    file, rows = render_register(scope, clock.today(), progress=progress)
    log = record_export(job.user, remote_addr=job.params.get("_client"), **excel_views.register_log(scope, rows))
    return jobs.Outcome(
        file=file, name=excel_views.register_file_name(scope), note=f"共 {rows:,} 名成员。", export_log=log
    )
