"""``data_manifest.yaml`` (repository root): read it, report what is present, verify a dataset, fetch archives.

``verify`` checks, in order: the root exists; every layout pattern matches the expected number of files; every
split of the loader can be listed; and (unless ``quick``) every item can be read with valid labels. It returns
the list of problems, each naming a path and a fix, so the CLI can print exactly what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .datasets import REAL_DATASETS, DatasetError, canonical_name, default_data_root

MANIFEST_NAME = "data_manifest.yaml"


def manifest_path() -> Path:
    from densepred.paths import repo_root

    return repo_root() / MANIFEST_NAME


def load_manifest(path: str | Path | None = None) -> dict:
    """The parsed manifest; raises ``FileNotFoundError`` naming the expected location when it is missing."""
    p = Path(path) if path is not None else None
    if p is None:
        try:
            p = manifest_path()
        except FileNotFoundError as e:
            raise FileNotFoundError(f"{MANIFEST_NAME} not found: {e}") from e
    if not p.is_file():
        raise FileNotFoundError(f"{p} not found: the data manifest lives at the repository root; restore it with "
                                f"`git checkout -- {MANIFEST_NAME}` or set DENSEPRED_ROOT to a full checkout.")
    data = yaml.safe_load(p.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("datasets"), list):
        raise ValueError(f"{p}: expected a mapping with a 'datasets' list")
    ids = [d.get("id") for d in data["datasets"]]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup or None in ids:
        raise ValueError(f"{p}: every dataset needs a unique id (duplicates: {sorted(dup)})")
    return data


def entries(path=None) -> list[dict]:
    return load_manifest(path)["datasets"]


def entry(name: str, path=None) -> dict:
    key = canonical_name(name)
    for d in entries(path):
        if d["id"] == key:
            return d
    known = ", ".join(d["id"] for d in entries(path))
    raise DatasetError(f"{name!r} is not in {MANIFEST_NAME}; known datasets: {known}")


def dataset_dir(e: dict, root: str | Path | None) -> Path:
    """Where dataset ``e`` lives: ``root/<dir>`` if that exists, else ``root`` itself if it already is that folder."""
    base = Path(root) if root is not None else default_data_root()
    d = base / e.get("dir", "")
    if d.is_dir() or not base.is_dir():
        return d
    # root may point directly at the dataset folder
    if any(base.glob(next(iter(e.get("layout", {}).values()), "__none__"))):
        return base
    return d


def count_layout(e: dict, root) -> dict[str, int]:
    """Number of files matching each layout pattern."""
    d = dataset_dir(e, root)
    if not d.is_dir():
        return {k: 0 for k in e.get("layout", {})}
    return {k: sum(1 for p in d.glob(pat) if p.is_file()) for k, pat in e.get("layout", {}).items()}


def presence(e: dict, root) -> str:
    """'synthetic', 'complete', 'partial (n/N files)', or 'missing'."""
    if e.get("kind") == "synthetic":
        return "synthetic"
    counts = count_layout(e, root)
    expected = e.get("counts", {})
    optional = set(e.get("optional", []))
    need = {k: v for k, v in expected.items() if v and k not in optional}
    have = sum(min(counts.get(k, 0), v) for k, v in need.items())
    total = sum(need.values())
    if sum(counts.values()) == 0:
        return "missing"
    if have >= total:
        return "complete"
    return f"partial ({have}/{total} files)"


@dataclass
class VerifyReport:
    name: str
    root: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        head = f"{self.name} at {self.root}: " + ("OK" if self.ok else f"{len(self.problems)} problem(s)")
        lines = [head] + [f"  - {p}" for p in self.problems] + [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def verify(name: str, root=None, quick: bool = False, progress: bool = False) -> VerifyReport:
    """Check a real dataset's layout, counts and (unless ``quick``) every item; see the module docstring."""
    e = entry(name)
    d = dataset_dir(e, root)
    rep = VerifyReport(e["id"], d)
    if e.get("kind") == "synthetic":
        rep.notes.append("synthetic: generated on demand, nothing to verify on disk")
        return rep
    if not d.is_dir():
        rep.problems.append(f"folder {d} not found. {e.get('how_to_get', '').strip()}")
        return rep
    counts = count_layout(e, root)
    optional = set(e.get("optional", []))
    for k, pat in e.get("layout", {}).items():
        want = e.get("counts", {}).get(k)
        have = counts.get(k, 0)
        msg = f"{d / pat}: {have} file(s)" + (f", the official release has {want}" if want else "")
        if want and have < want:
            (rep.notes if k in optional else rep.problems).append(
                f"{msg}: {want - have} missing" + (" (optional)" if k in optional else ""))
        elif want and have > want:
            rep.notes.append(f"{msg}: more files than expected (extra files are listed too)")
    cls = REAL_DATASETS.get(e["id"])
    if cls is None:
        rep.notes.append("no loader for this dataset")
        return rep
    for split in cls.splits:
        if split == "all":
            continue
        try:
            ds = cls(root=d, split=split)
        except DatasetError as err:
            rep.problems.append(f"split {split!r}: {err}")
            continue
        rep.notes.append(f"split {split!r}: {len(ds)} items")
        if not quick:
            rep.problems.extend(ds.verify(progress=progress))
    return rep


def fetch(name: str, root=None, progress: bool = True) -> list[Path]:
    """Download the archives of ``name`` that have a direct URL (pooch, hash-checked where the manifest has one)
    and unpack them into ``root``. Raises :class:`DatasetError` with instructions when no direct URL exists."""
    import pooch

    e = entry(name)
    if e.get("kind") == "synthetic":
        raise DatasetError(f"{e['id']} is synthetic: generate it with `densepred data synth {e['id']}` instead.")
    base = Path(root) if root is not None else default_data_root()
    archives = e.get("archives", [])
    direct = [a for a in archives if a.get("url")]
    if not direct:
        raise DatasetError(f"{e['id']} has no direct download (registration or request needed). "
                           f"{e.get('how_to_get', '').strip()} Source: {e.get('source')}")
    downloads = base / "_downloads"
    out = []
    for a in direct:
        known = f"sha256:{a['sha256']}" if a.get("sha256") else (f"md5:{a['md5']}" if a.get("md5") else None)
        dest = (base / a.get("extract_to", ".")).resolve()
        is_zip = a["file"].lower().endswith(".zip")
        fname = pooch.retrieve(a["url"], known_hash=known, fname=a["file"],
                               path=downloads if is_zip else dest, progressbar=progress,
                               processor=pooch.Unzip(extract_dir=str(dest)) if is_zip else None)
        out.extend(Path(f) for f in (fname if isinstance(fname, list) else [fname]))
    missing = [a["file"] for a in archives if not a.get("url")]
    if missing:
        print(f"Not downloadable directly: {', '.join(missing)}. {e.get('how_to_get', '').strip()}")
    return out


def table_rows(root=None) -> list[dict]:
    """One row per dataset for `densepred data list`."""
    rows = []
    for e in entries():
        rows.append({
            "id": e["id"], "kind": e.get("kind", ""), "task": e.get("task", ""),
            "papers": ", ".join(e.get("papers", {}) or {}),
            "present": presence(e, root),
            "fetch": "direct" if any(a.get("url") for a in e.get("archives", [])) else (
                "generated" if e.get("kind") == "synthetic" else "manual"),
        })
    return rows
