"""``data_manifest.yaml`` (repository root): read it, report what is present, verify a dataset, fetch archives.

``verify`` checks, in order: the root exists; every layout pattern (a glob, or a list of globs whose matches
are counted together, e.g. JPEG or PNG masks) matches the expected number of files; every split of the loader
can be listed, with the number of image and label files the loader will read; and (unless ``quick``) every item
can be read with valid labels, one item at a time (no split is held in memory). It returns the list of
problems, each naming a path and a fix, so the CLI can print exactly what is missing.

``fetch`` downloads the archives that have a direct URL with pooch and verifies each one: against the
manifest's SHA-256 or MD5 where it has one; otherwise the SHA-256 of what was fetched is printed and recorded in
``<data_root>/.densepred-fetch.lock.json``, and later fetches are verified against that record (trust on first
use). A digest mismatch, or no network, is one :class:`DatasetError` naming the file and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .datasets import REAL_DATASETS, DatasetError, canonical_name
from .roots import default_data_root, resolve_data_root

MANIFEST_NAME = "data_manifest.yaml"
LOCK_NAME = ".densepred-fetch.lock.json"


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


def _root(root, must_exist: bool = True) -> Path:
    """The absolute data root; a root given explicitly must exist (the default may be absent)."""
    if root is None:
        return default_data_root()
    return resolve_data_root(root, must_exist=must_exist)


def patterns(pattern) -> list[str]:
    """A layout value as a list of glob patterns (a string or a list of strings)."""
    return [pattern] if isinstance(pattern, str) else list(pattern)


def dataset_dir(e: dict, root: str | Path | None) -> Path:
    """Where dataset ``e`` lives: ``root/<dir>`` if that exists, else ``root`` itself if it already is that folder."""
    base = _root(root)
    d = base / e.get("dir", "")
    if d.is_dir() or not base.is_dir():
        return d
    # root may point directly at the dataset folder
    first = next(iter(e.get("layout", {}).values()), "__none__")
    if any(any(base.glob(p)) for p in patterns(first)):
        return base
    return d


def layout_files(e: dict, root) -> dict[str, set[Path]]:
    """The files matching each layout entry of ``e`` (the union of its patterns), one glob per pattern."""
    d = dataset_dir(e, root)
    if not d.is_dir():
        return {k: set() for k in e.get("layout", {})}
    return {k: {p for pat in patterns(v) for p in d.glob(pat) if p.is_file()} for k, v in e.get("layout", {}).items()}


def count_layout(e: dict, root) -> dict[str, int]:
    """Number of files matching each layout entry (the union of its patterns)."""
    return {k: len(v) for k, v in layout_files(e, root).items()}


def size_on_disk(e: dict, root, files: dict[str, set[Path]] | None = None) -> int:
    """Bytes of the files the layout of ``e`` matches under ``root`` (each file once; ``files``: an earlier
    :func:`layout_files`): the dataset's size on disk as the loaders see it, measured rather than recorded (the
    archives' sizes could not be checked offline)."""
    files = layout_files(e, root) if files is None else files
    return sum(p.stat().st_size for p in set().union(*files.values()))


def _bytes(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


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
    #: "synthetic" (nothing on disk), "missing" (no folder), or "present" (checked: see problems and notes)
    state: str = "present"
    #: bytes of the layout's files when present (:func:`size_on_disk`)
    size: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line: the dataset and what is there (for ``densepred data verify`` over every dataset)."""
        if self.state == "synthetic":
            return f"{self.name}: synthetic, generated on demand"
        if self.state == "missing":
            return f"{self.name}: missing ({self.root} not found; `densepred data verify {self.name}` says where to get it)"
        size = "" if self.size is None else f" ({_bytes(self.size)})"
        return (f"{self.name}: present at {self.root}{size}, "
                + ("OK" if self.ok else f"{len(self.problems)} problem(s)"))

    def text(self) -> str:
        head = f"{self.name} at {self.root}: " + ("OK" if self.ok else f"{len(self.problems)} problem(s)")
        lines = [head] + [f"  - {p}" for p in self.problems] + [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def loader_class(name: str):
    """The class that reads dataset ``name`` from its official layout: a :data:`REAL_DATASETS` entry, or a loader
    whose items are not single images (KITTI raw's frame tuples); ``None`` when there is none."""
    from .kitti_raw import NAME as KITTI_RAW, KITTIRaw

    return REAL_DATASETS.get(name) or {KITTI_RAW: KITTIRaw}.get(name)


def verify(name: str, root=None, quick: bool = False, progress: bool = False) -> VerifyReport:
    """Check a real dataset's layout, counts and (unless ``quick``) every item; see the module docstring."""
    e = entry(name)
    d = dataset_dir(e, root)
    rep = VerifyReport(e["id"], d)
    if e.get("kind") == "synthetic":
        rep.state = "synthetic"
        rep.notes.append("synthetic: generated on demand, nothing to verify on disk")
        return rep
    if not d.is_dir():
        rep.state = "missing"
        rep.problems.append(f"folder {d} not found. {e.get('how_to_get', '').strip()}")
        return rep
    files = layout_files(e, root)
    counts = {k: len(v) for k, v in files.items()}
    optional = set(e.get("optional", []))
    for k, pat in e.get("layout", {}).items():
        want = e.get("counts", {}).get(k)
        have = counts.get(k, 0)
        shown = " | ".join(str(d / p) for p in patterns(pat))
        msg = f"{shown}: {have} file(s)" + (f", the official release has {want}" if want else "")
        if want and have < want:
            (rep.notes if k in optional else rep.problems).append(
                f"{msg}: {want - have} missing" + (" (optional)" if k in optional else ""))
        elif want and have > want:
            rep.notes.append(f"{msg}: more files than expected (extra files are listed too)")
        else:
            rep.notes.append(msg)
    rep.size = size_on_disk(e, root, files)
    rep.notes.append(f"size on disk (files of the layout): {_bytes(rep.size)}")
    cls = loader_class(e["id"])
    if cls is None:
        rep.notes.append("no loader for this dataset")
        return rep
    for split in cls.splits:
        if split == "all":
            continue
        try:
            ds = cls(root=d, split=split)
        except DatasetError as err:
            optional = split in getattr(cls, "optional_splits", ())
            (rep.notes if optional else rep.problems).append(f"split {split!r}" + (" (optional)" if optional
                                                                                   else "") + f": {err}")
            continue
        rep.notes.append(f"split {split!r}: the loader reads {len(ds)} items: " + loader_files(ds))
        if not quick:
            rep.problems.extend(ds.verify(progress=progress))
    return rep


def verify_all(root=None, quick: bool = False, progress: bool = False) -> list[VerifyReport]:
    """:func:`verify` for every dataset of the manifest (``quick``: layout, counts and each split's file list,
    no item read). ``root`` must exist."""
    _root(root)
    return [verify(e["id"], root, quick=quick, progress=progress) for e in entries()]


def loader_files(ds) -> str:
    """How many distinct image and label files (by extension) the loader of ``ds`` will read."""
    from collections import Counter

    images = {s["image"] for s in ds.samples}
    labels = set()
    for s in ds.samples:
        labels.update(s.get("masks", [s.get("mask")]))
    labels.discard(None)

    def describe(files) -> str:
        by_ext = Counter(Path(f).suffix.lower() or "(none)" for f in files)
        return ", ".join(f"{n} {ext}" for ext, n in sorted(by_ext.items()))

    return f"{len(images)} image file(s) ({describe(images)}), {len(labels)} label file(s) ({describe(labels)})"


def _lock_path(base: Path) -> Path:
    return base / LOCK_NAME


def read_lock(base: Path) -> dict:
    """``{file name: {"url", "sha256", "fetched"}}`` recorded by earlier fetches under ``base`` (empty if none)."""
    import json

    p = _lock_path(base)
    if not p.is_file():
        return {}
    try:
        data = json.loads(p.read_text())
    except ValueError as e:
        raise DatasetError(f"{p}: not valid JSON ({e}); it records the digests of fetched archives. Fix it, or "
                           "delete it to record the digests again on the next fetch.") from e
    if not isinstance(data, dict):
        raise DatasetError(f"{p}: expected a JSON object of file -> digest; delete it to start again.")
    return data


def _write_lock(base: Path, data: dict) -> None:
    import json
    import os
    import uuid

    p = _lock_path(base)
    tmp = p.with_name(f"{p.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(p)


def _download(url: str, output_file: str, pooch_obj, progressbar: bool = True) -> None:
    """Download ``url`` to ``output_file`` (pooch's HTTP downloader; tests replace this function)."""
    import pooch

    pooch.HTTPDownloader(progressbar=progressbar)(url, output_file, pooch_obj)


def _is_network_error(err: BaseException) -> bool:
    import socket
    import urllib.error

    kinds: tuple = (urllib.error.URLError, socket.gaierror, socket.timeout, ConnectionError, TimeoutError)
    try:
        import requests

        kinds += (requests.exceptions.ConnectionError, requests.exceptions.Timeout)
    except ImportError:  # pragma: no cover - requests comes with pooch
        pass
    while err is not None:
        if isinstance(err, kinds):
            return True
        err = err.__cause__ or err.__context__
    return False


def fetch(name: str, root=None, progress: bool = True) -> list[Path]:
    """Download the archives of ``name`` that have a direct URL, verify them, and unpack zips into ``root``.

    Raises :class:`DatasetError` with instructions when no direct URL exists, when the network is unreachable,
    or when a digest does not match (the manifest's, or the one recorded in the lock file by an earlier fetch).
    """
    import pooch

    e = entry(name)
    if e.get("kind") == "synthetic":
        raise DatasetError(f"{e['id']} is synthetic: generate it with `densepred data synth {e['id']}` instead.")
    base = _root(root, must_exist=False)
    archives = e.get("archives", [])
    direct = [a for a in archives if a.get("url")]
    if not direct:
        raise DatasetError(f"{e['id']} has no direct download (registration or request needed). "
                           f"{e.get('how_to_get', '').strip()} Source: {e.get('source')}")
    if not base.is_dir():
        if not base.parent.is_dir():
            resolve_data_root(base)  # raises: names the root and the fix
        base.mkdir()
        print(f"created data root {base}")
    logger = pooch.get_logger()  # our own lines say what was fetched and verified; pooch's INFO lines repeat it
    level = logger.level
    logger.setLevel("WARNING")
    try:
        return _fetch_archives(e, base, direct, archives, progress)
    finally:
        logger.setLevel(level)


def _fetch_archives(e: dict, base: Path, direct: list[dict], archives: list[dict], progress: bool) -> list[Path]:
    import datetime
    import functools

    import pooch

    downloads = base / "_downloads"
    lock = read_lock(base)
    out = []
    for a in direct:
        recorded = lock.get(a["file"], {}).get("sha256")
        if a.get("sha256"):
            known, source = f"sha256:{a['sha256']}", MANIFEST_NAME
        elif a.get("md5"):
            known, source = f"md5:{a['md5']}", MANIFEST_NAME
        elif recorded:
            known, source = f"sha256:{recorded}", str(_lock_path(base))
        else:
            known, source = None, None
        dest = base / a.get("extract_to", ".")
        is_zip = a["file"].lower().endswith(".zip")
        folder = downloads if is_zip else dest
        try:
            fname = pooch.retrieve(a["url"], known_hash=known, fname=a["file"], path=folder,
                                   progressbar=progress,
                                   downloader=functools.partial(_download, progressbar=progress),
                                   processor=pooch.Unzip(extract_dir=str(dest.resolve())) if is_zip else None)
        except ValueError as err:
            if "hash" not in str(err).lower():
                raise
            raise DatasetError(
                f"{a['file']} from {a['url']} does not match the digest {known} recorded in {source} (pooch: "
                f"{err}). The download was deleted. Fix: retry (a truncated transfer); if the source has "
                "legitimately changed, check it and then "
                + ("update the manifest entry." if source == MANIFEST_NAME else
                   f"delete the {a['file']!r} entry from {source} so the new digest is recorded.")) from err
        except Exception as err:  # noqa: BLE001 - only network failures are turned into a message
            if not _is_network_error(err):
                raise
            raise DatasetError(
                f"cannot download {a['file']} from {a['url']}: the network is unreachable ({type(err).__name__}). "
                f"Fix: connect and rerun `densepred data fetch {e['id']} --root {base}`, or download the file by "
                f"hand into {folder} (it is verified on the next fetch).") from None
        digest = pooch.file_hash(str(folder / a["file"]), alg="sha256")
        if known is None:
            lock[a["file"]] = {"url": a["url"], "sha256": digest,
                               "fetched": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
            _write_lock(base, lock)
            print(f"{a['file']}: sha256 {digest} (no published checksum; recorded in {_lock_path(base)}, later "
                  "fetches are verified against it)")
        else:
            print(f"{a['file']}: verified ({known.split(':')[0]} from {source})")
        out.extend(Path(f) for f in (fname if isinstance(fname, list) else [fname]))
    missing = [a["file"] for a in archives if not a.get("url")]
    if missing:
        print(f"Not downloadable directly: {', '.join(missing)}. {e.get('how_to_get', '').strip()}")
    return out


def table_rows(root=None) -> list[dict]:
    """One row per dataset for `densepred data list` (an explicit ``root`` must exist)."""
    root = _root(root)
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
