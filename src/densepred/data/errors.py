"""The one exception the data package raises for bad input on disk or bad arguments."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset on disk is missing or malformed, or an argument is invalid; the message names the path (or the
    parameter) and how to fix it."""
