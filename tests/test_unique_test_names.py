"""Test modules need unique basenames: the test folders are not packages, so pytest refuses to collect two
files of the same name ("import file mismatch") and the whole unit run stops."""

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_test_module_basenames_are_unique():
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert [n for n, k in names.items() if k > 1] == []
