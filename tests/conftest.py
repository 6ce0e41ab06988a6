"""Suite-wide isolation from the developer's environment.

A terminal's COLUMNS narrows Rich tables (and wraps the paths tests look for),
and a developer's LIKENESSGUARD_* settings (a catalog URL, a policy file) would
point tests at real data. Tests that need either set it themselves.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name == "LIKENESSGUARD_TEST_PG":  # where the suite's PostgreSQL is: keep it
            continue
        if name in ("COLUMNS", "LINES") or name.startswith("LIKENESSGUARD_"):
            monkeypatch.delenv(name, raising=False)
