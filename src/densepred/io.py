"""Atomic file writes: a result is either the old file or the complete new one, never half of either.

Temporary files are created with :func:`tempfile.mkstemp` in the target's directory (a unique name per writer,
so concurrent writers never share one, and ``os.replace`` stays on one filesystem). ``mkstemp`` creates files
with mode 0600; :func:`unique_temp` widens that to what the user's umask allows, as ``open()`` would.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (``/proc/self/status`` on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, and put it back at once
    os.umask(mask)
    return mask


def unique_temp(target: str | os.PathLike, suffix: str = ".tmp") -> tuple[int, Path]:
    """A new, uniquely named hidden file beside ``target`` (``.<name>.<random><suffix>``), opened for writing,
    with the permissions a plain ``open()`` would give under the user's umask. Returns ``(fd, path)``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.fchmod(fd, 0o666 & ~current_umask())
    return fd, Path(tmp)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` via a unique temporary file in the same directory and ``os.replace``."""
    path = Path(path)
    fd, tmp = unique_temp(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted JSON, atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
