"""Opening a catalog is safe under threads, under concurrent processes and under a kill.

Threaded crawls open the catalog from several stages at once (the bank matcher,
the registry): Alembic's script loading is not thread-safe, so those opens used
to fail with ``KeyError: 'config'`` and the stage silently did nothing for that
file. A SIGKILL during the first open of a new SQLite catalog used to leave
tables without an Alembic version row, after which every open failed with
"table artifacts already exists".
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from likenessguard.store.db import open_catalog, table_names

KILL_AFTER_TABLES = """
import os, signal, sys
from alembic import op
from likenessguard.store.db import open_catalog

created = 0
real = op.create_table

def create_table(*args, **kwargs):
    global created
    out = real(*args, **kwargs)
    created += 1
    if created == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
    return out

op.create_table = create_table
open_catalog(sys.argv[1])
"""


def _heads(url: str) -> set[str]:
    engine = open_catalog(url)
    try:
        with engine.connect() as conn:
            return {
                str(r[0]) for r in conn.execute(text("SELECT version_num FROM alembic_version"))
            }
    finally:
        engine.dispose()


def test_threads_opening_one_new_catalog_all_succeed(catalog_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def open_it() -> None:
        barrier.wait()
        try:
            open_catalog(catalog_url).dispose()
        except BaseException as exc:  # the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(_heads(catalog_url)) == 4  # core, banks, review, hubs (and their children)


@pytest.mark.parametrize("tables", [1, 3, 8])
def test_a_kill_during_the_first_open_leaves_a_catalog_that_opens(
    tmp_path: Path, tables: int
) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_TABLES, url, str(tables)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    engine = open_catalog(url)  # raised "table ... already exists" before
    try:
        assert {"artifacts", "alembic_version"} <= table_names(engine)
    finally:
        engine.dispose()


def test_processes_opening_one_new_catalog_at_once_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    code = "import sys; from likenessguard.store.db import open_catalog; open_catalog(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _out, err in results]
