"""The tree's one-way data flow, enforced: inner folders never import outer ones.

Readers must know nothing of verdicts or the web app; only ``store`` speaks SQL,
only ``web`` speaks HTTP-server, only ``cli`` speaks Typer. A violation here is
a design bug, not a style nit: it is how a parser ends up depending on a web
framework.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import likenessguard

PACKAGE = Path(likenessguard.__file__).parent

# folder -> likenessguard sub-packages it must not import
FORBIDDEN_INTERNAL: dict[str, set[str]] = {
    "artifacts": {
        "hashing",
        "evidence",
        "registry",
        "verdicts",
        "banks",
        "store",
        "hubs",
        "pipeline",
        "web",
        "reports",
        "cli",
    },
    "hashing": {
        "evidence",
        "registry",
        "verdicts",
        "banks",
        "store",
        "hubs",
        "pipeline",
        "web",
        "reports",
        "cli",
    },
    "evidence": {
        "hashing",
        "registry",
        "verdicts",
        "banks",
        "store",
        "hubs",
        "pipeline",
        "web",
        "reports",
        "cli",
    },
    "registry": {"verdicts", "banks", "store", "hubs", "pipeline", "web", "reports", "cli"},
    "verdicts": {"banks", "store", "hubs", "pipeline", "web", "reports", "cli"},
    "banks": {"verdicts", "store", "hubs", "pipeline", "web", "reports", "cli"},
    "store": {"hubs", "pipeline", "web", "reports", "cli"},
    "hubs": {"store", "pipeline", "web", "reports", "cli"},
    "pipeline": {"web", "reports", "cli"},
    "reports": {"web", "cli"},
    "web": {"cli"},
}

# third-party package -> the only folders allowed to import it
EXCLUSIVE_THIRD_PARTY: dict[str, set[str]] = {
    "sqlalchemy": {"store"},
    "alembic": {"store"},
    "fastapi": {"web"},
    "starlette": {"web"},
    "typer": {"cli"},
    "dask": {"pipeline"},
    "distributed": {"pipeline"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules() -> list[tuple[str, Path]]:
    return [
        (p.relative_to(PACKAGE).parts[0], p)
        for p in sorted(PACKAGE.rglob("*.py"))
        if len(p.relative_to(PACKAGE).parts) > 1
    ]


def test_inner_folders_never_import_outer_ones() -> None:
    violations = []
    for folder, path in _modules():
        banned = FORBIDDEN_INTERNAL.get(folder, set())
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "likenessguard" and len(parts) > 1 and parts[1] in banned:
                violations.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not violations, "layering violations:\n" + "\n".join(violations)


@pytest.mark.parametrize("package", sorted(EXCLUSIVE_THIRD_PARTY))
def test_framework_imports_stay_in_their_folder(package: str) -> None:
    allowed = EXCLUSIVE_THIRD_PARTY[package]
    violations = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for folder, path in _modules()
        if folder not in allowed and folder != "testing"
        for name in _imports(path)
        if name.split(".")[0] == package
    ]
    assert not violations, f"{package} is only for {sorted(allowed)}:\n" + "\n".join(violations)


def test_every_module_explains_why_it_exists() -> None:
    missing = [
        str(path.relative_to(PACKAGE))
        for _, path in _modules()
        if path.name != "__init__.py"
        and "migrations" not in path.parts
        and not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not missing, "modules without a docstring:\n" + "\n".join(missing)
