"""What a book build runs: the selected notebooks, which of them are stale, in which order; and its report.

Ordering rule: notebooks of one paper run one after the other in notebook order (a later page reuses the runs an
earlier page trained, so each run is trained once); different papers are independent and may run in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import paths
from ..profiles import ProfileError
from ..runner import NotebookError, notebook_key, source_notebooks, stale_reason


@dataclass
class Outcome:
    """One notebook's fate in a build: ``ran``, ``up to date``, ``failed`` or ``skipped`` (interrupted)."""

    key: str
    status: str
    detail: str = ""
    seconds: float | None = None
    log: Path | None = None

    def line(self) -> str:
        extra = f" ({self.seconds:.1f} s)" if self.seconds is not None else ""
        extra += f": {self.detail}" if self.detail else ""
        extra += f" [log: {self.log}]" if self.log else ""
        return f"  {self.status:<10} {self.key}{extra}"


@dataclass
class Report:
    profile: str
    outcomes: list[Outcome] = field(default_factory=list)
    todo: list[list[Path]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    html: Path | None = None

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.problems

    def summary(self) -> str:
        counts = {s: sum(o.status == s for o in self.outcomes) for s in ("ran", "up to date", "failed", "skipped")}
        head = f"book build (profile {self.profile}): " + ", ".join(f"{n} {s}" for s, n in counts.items())
        order = {"failed": 0, "skipped": 1, "ran": 2, "up to date": 3}
        lines = [head] + [o.line() for o in sorted(self.outcomes, key=lambda o: order.get(o.status, 9))
                          if o.status != "up to date"]
        lines += [f"  problem    {p}" for p in self.problems]
        return "\n".join(lines)


def plan(profile: str, paper: str | None = None, keys: list[str] | None = None, force: bool = False,
         run: bool = True) -> Report:
    """Select notebooks (a paper slug and/or ``<slug>/<stem>`` keys), decide which are stale, and group those
    into per-paper chains (:attr:`Report.todo`). A notebook whose staleness cannot be decided is reported as
    failed with the reason, and the others go on."""
    report = Report(profile)
    if not run:
        return report
    selected = source_notebooks(paper)
    if keys:
        by_key = {notebook_key(nb): nb for nb in selected}
        unknown = [k for k in keys if k not in by_key]
        if unknown:
            raise NotebookError(f"Unknown notebook {', '.join(unknown)}; notebooks: {', '.join(by_key)}.")
        selected = [by_key[k] for k in by_key if k in keys]
    chains: dict[str, list[Path]] = {}
    for nb in selected:
        key = notebook_key(nb)
        try:
            reason = "forced" if force else stale_reason(nb, profile)
        except (NotebookError, ProfileError, OSError) as exc:
            report.outcomes.append(Outcome(key, "failed", f"cannot decide staleness: {exc}"))
            continue
        if reason:
            chains.setdefault(nb.parent.name, []).append(nb)
        else:
            report.outcomes.append(Outcome(key, "up to date"))
    report.todo = list(chains.values())
    return report


def relative(path: Path) -> str:
    """``path`` relative to the repository root when inside it (for messages)."""
    try:
        return str(Path(path).resolve().relative_to(paths.repo_root()))
    except ValueError:
        return str(path)
