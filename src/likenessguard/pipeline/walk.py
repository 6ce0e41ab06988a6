"""Walking local paths into scan targets, safely.

Model folders are full of symlinks (Hugging Face caches are nothing but), so
the walk follows symlinked directories but never loops: a directory that is
already an ancestor of itself becomes a ``symlink loop`` problem, and one
reached twice by different paths is walked once. Problems are yielded, not
raised, so the scanner can record them and go on.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from likenessguard.artifacts.open import is_candidate as _readers_candidate
from likenessguard.pipeline.base import LocalTarget


@dataclass(frozen=True, slots=True)
class WalkProblem:
    """A path that could not be walked or scanned, and why (one line).

    ``missing_root`` marks a path the user named that does not exist: reported,
    but not stored in the catalog (there is nothing there to catalog).
    """

    path: str
    message: str
    missing_root: bool = False

    @property
    def uri(self) -> str:
        return Path(self.path).as_uri()


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def walk(
    paths: Iterable[str | os.PathLike[str]],
    *,
    is_candidate: Callable[[str], bool] | None = None,
) -> Iterator[LocalTarget | WalkProblem]:
    """Yield a target for every candidate file under ``paths`` (sorted, depth first).

    A path named explicitly is scanned even if its name is not a model suffix:
    the readers decide by content, and the user asked for it.

    Args:
        paths: files and folders to scan.
        is_candidate: which files in folders to scan; defaults to the readers' own test.
    """
    check = is_candidate or _readers_candidate
    visited: set[tuple[int, int]] = set()
    for raw in paths:
        path = os.path.abspath(os.fspath(raw))
        try:
            st = os.stat(path)
        except FileNotFoundError:
            if os.path.islink(path):
                yield WalkProblem(path, f"{path} is a broken symlink; fix or remove it")
            else:
                yield WalkProblem(path, f"{path} does not exist", missing_root=True)
            continue
        except OSError as exc:
            yield WalkProblem(path, _describe(path, exc))
            continue
        if os.path.isdir(path):
            yield from _walk_dir(path, st, check, visited)
        else:
            yield LocalTarget.from_path(path, st)


def _describe(path: str, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return f"{path} is a symlink loop; it was skipped"
    if isinstance(exc, PermissionError):
        return f"couldn't read {path}: permission denied; grant read access or run as its owner"
    return f"couldn't read {path}: {_reason(exc)}"


def _walk_dir(
    root: str,
    root_st: os.stat_result,
    check: Callable[[str], bool],
    visited: set[tuple[int, int]],
) -> Iterator[LocalTarget | WalkProblem]:
    # Each stack frame carries the chain of ancestor directory ids, so a symlink
    # pointing back up the tree is recognised as a loop rather than walked forever.
    key = (root_st.st_dev, root_st.st_ino)
    if key in visited:
        return
    visited.add(key)
    stack: list[tuple[str, frozenset[tuple[int, int]]]] = [(root, frozenset({key}))]
    while stack:
        folder, ancestors = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield WalkProblem(folder, _describe(folder, exc))
            continue
        subdirs: list[tuple[str, frozenset[tuple[int, int]]]] = []
        for entry in entries:
            path = entry.path
            try:
                st = entry.stat(follow_symlinks=True)
            except FileNotFoundError:
                if entry.is_symlink() and check(path):
                    yield WalkProblem(path, f"{path} is a broken symlink; fix or remove it")
                continue
            except OSError as exc:
                if exc.errno == errno.ELOOP or check(path):
                    yield WalkProblem(path, _describe(path, exc))
                continue
            if entry.is_dir(follow_symlinks=True):
                dkey = (st.st_dev, st.st_ino)
                if dkey in ancestors:
                    target = os.path.realpath(path)
                    yield WalkProblem(
                        path,
                        f"{path} is a symlink loop (points back to {target}); not followed",
                    )
                    continue
                if dkey in visited:
                    continue  # the same folder reached by another path: walked once
                visited.add(dkey)
                if check(path):
                    # A folder a reader claims (a diffusers adapter, or a folder
                    # disguised as a model file): scan it as one target.
                    yield LocalTarget.from_path(path, st)
                    continue
                subdirs.append((path, ancestors | {dkey}))
            elif check(path):
                yield LocalTarget.from_path(path, st)
        # Reverse so the stack pops sub-folders in name order.
        stack.extend(reversed(subdirs))
