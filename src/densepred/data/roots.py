"""Where datasets live: the data root, as the user typed it, made absolute.

``resolve_data_root(root)`` expands ``~``, makes a relative path absolute against the directory the command was
run from (``os.getcwd()``), and refuses a root that does not exist with one message that shows the absolute path
and the fix. ``None`` means the default: ``$DENSEPRED_DATA`` if set, else ``<repo>/data``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DatasetError

ENV_VAR = "DENSEPRED_DATA"


def default_data_root() -> Path:
    """``$DENSEPRED_DATA`` if set, else ``<repo>/data`` (``./data`` outside a checkout); absolute."""
    env = os.environ.get(ENV_VAR)
    if env:
        return absolute(env)
    from densepred.paths import repo_root

    try:
        return repo_root() / "data"
    except FileNotFoundError:
        return Path.cwd() / "data"


def absolute(path: str | os.PathLike) -> Path:
    """``~`` expanded, relative paths taken from the current working directory; symlinks are kept (no resolve)."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def resolve_data_root(root: str | os.PathLike | None = None, must_exist: bool = True) -> Path:
    """The absolute data root; with ``must_exist`` a missing folder is a :class:`DatasetError` naming it.

    Args:
        root: a path (``~`` and relative paths accepted) or ``None`` for :func:`default_data_root`.
        must_exist: raise when the folder does not exist (``densepred data fetch`` creates it instead).
    """
    given = root
    path = default_data_root() if root is None else absolute(root)
    if must_exist and not path.is_dir():
        how = (f"given as {os.fspath(given)!r}" if given is not None
               else f"the default: ${ENV_VAR} or <repo>/data")
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise DatasetError(
            f"data_root {path} {what} ({how}). Fix: pass an existing folder as data_root=... / --root, or set "
            f"{ENV_VAR}; create it with `mkdir -p {path}` and put the datasets there in their official layouts "
            "(`densepred data list --root DIR` shows what is expected, `densepred data fetch NAME --root DIR` "
            "downloads the ones with a direct link).")
    return path
