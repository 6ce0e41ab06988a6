"""The key tables in docs/, read back so tests can compare them with what the code writes.

A table is marked by an HTML comment right above it, ``<!-- keys: NAME -->``
(each area uses its own prefix: ``bank-keys``, ``hub-keys``, ...); its
first-column entries written as code (`` `key` ``) are the documented keys.
"""

from __future__ import annotations

import re


def key_tables(text: str, prefix: str = "keys", where: str = "docs") -> dict[str, list[str]]:
    """Marker name -> the first-column keys of the table right after ``<!-- PREFIX: NAME -->``."""
    marker = re.compile(rf"^<!--\s*{re.escape(prefix)}:\s*([\w.\-\[\]]+)\s*-->\s*$")
    tables: dict[str, list[str]] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = marker.match(line.strip())
        if not match:
            continue
        name = match.group(1)
        assert name not in tables, f"{where} marks two tables as {name!r}"
        keys: list[str] = []
        for row in lines[i + 1 :]:
            if not row.startswith("|"):
                break
            first = row.split("|")[1].strip()
            if first.startswith("`") and first.endswith("`"):
                keys.append(first.strip("`"))
        assert keys, f"the table after <!-- {prefix}: {name} --> in {where} has no keys"
        tables[name] = keys
    return tables
