"""Build the book: run what is stale (locally in parallel, or on SLURM), rebuild the scorecard, build the HTML.

Modules: :mod:`.plan` (what to run, in which order), :mod:`.executors` (local processes, submitit),
:mod:`.site` (staging copy, page warnings, scorecard, Jupyter Book). :func:`build` ties them together and
returns a :class:`~.plan.Report` whose summary lists what ran, what was up to date and what failed.
"""

from __future__ import annotations

from .. import paths
from .executors import SlurmOptions, run_local, run_slurm
from .plan import Outcome, Report, plan
from .site import build_html, stage, write_scorecard

__all__ = ["build", "build_html", "stage", "write_scorecard", "plan", "run_local", "run_slurm", "Outcome",
           "Report", "SlurmOptions"]


def build(paper: str | None = None, profile: str = paths.BOOK_PROFILE, force: bool = False, html: bool = True,
          warnings_as_errors: bool = False, run: bool = True, notebooks: list[str] | None = None, jobs: int = 1,
          gpus: list[str] | None = None, executor: str = "local", slurm: SlurmOptions | None = None,
          echo=print) -> Report:
    """Execute every selected notebook whose executed copy at ``profile`` is missing or stale (all with
    ``force``), then rebuild the scorecard from the results that exist and build the HTML.

    A failing notebook does not stop the others; the report lists it with its cell and error. ``run=False``
    executes nothing (``make test``). ``paper``/``notebooks`` select by slug or ``<slug>/<stem>`` key;
    ``jobs``/``gpus`` run papers in parallel locally, ``executor="slurm"`` submits them with submitit.
    """
    report = plan(profile, paper=paper, keys=notebooks, force=force, run=run)
    if report.todo and profile == paths.BOOK_PROFILE:
        from ..provenance import git_state

        state = git_state()
        if state["tree"] == "dirty":  # the committed pages should come from clean commits: say so, loudly
            echo(f"warning: uncommitted changes to {', '.join(state['changed'][:5])}"
                 f"{', ...' if len(state['changed']) > 5 else ''}; the pages run now record a dirty tree and "
                 "are flagged on the built page. Commit first for pages from a clean commit.")
    for o in report.outcomes:
        if o.status == "up to date":
            echo(f"up to date: {o.key}")
    if report.todo:
        if executor == "local":
            report.outcomes += run_local(report.todo, profile, jobs=jobs, gpus=gpus, echo=echo)
        elif executor == "slurm":
            report.outcomes += run_slurm(report.todo, profile, slurm or SlurmOptions(), echo=echo)
        else:
            raise ValueError(f"Unknown executor {executor!r}; use local or slurm.")
    if profile == paths.BOOK_PROFILE:  # the committed scorecard shows the committed results only
        write_scorecard(paths.book_dir(), {profile: paths.results_dir(profile)})
    if html:
        site, problems = stage(profile)
        report.problems += problems
        report.html = build_html(site, profile, warnings_as_errors)
    return report
