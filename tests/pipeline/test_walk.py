"""The walk finds every candidate once, in a stable order, and turns loops into problems."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from likenessguard.pipeline.base import LocalTarget, StatKey
from likenessguard.pipeline.walk import WalkProblem, walk


def _is_model(path: str) -> bool:
    return path.endswith((".safetensors", ".ckpt"))


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _split(items: list[LocalTarget | WalkProblem]) -> tuple[list[str], list[WalkProblem]]:
    targets = [i.display for i in items if isinstance(i, LocalTarget)]
    problems = [i for i in items if isinstance(i, WalkProblem)]
    return targets, problems


def test_walk_is_recursive_sorted_and_filters_candidates(tmp_path: Path) -> None:
    _touch(tmp_path / "b.safetensors")
    _touch(tmp_path / "a.ckpt")
    _touch(tmp_path / "notes.txt")
    _touch(tmp_path / "sub" / "deeper" / "c.safetensors")
    _touch(tmp_path / "sub" / "z.safetensors")
    targets, problems = _split(list(walk([tmp_path], is_candidate=_is_model)))
    assert problems == []
    assert targets == [
        str(tmp_path / "a.ckpt"),
        str(tmp_path / "b.safetensors"),
        str(tmp_path / "sub" / "z.safetensors"),
        str(tmp_path / "sub" / "deeper" / "c.safetensors"),
    ]


def test_target_identity_and_stat_key(tmp_path: Path) -> None:
    path = _touch(tmp_path / "we ird#name.safetensors", b"12345")
    (target,) = walk([path], is_candidate=_is_model)
    assert isinstance(target, LocalTarget)
    st = path.stat()
    assert target.stat == StatKey(5, st.st_mtime_ns, st.st_ino)
    assert target.size == 5
    # '#' is percent-encoded, so it never reads as an archive-member separator.
    assert target.uri == path.as_uri()
    assert "#" not in target.uri
    assert target.location.uri == target.uri
    assert target.location.hub == "local"


def test_explicit_files_are_scanned_whatever_their_name(tmp_path: Path) -> None:
    path = _touch(tmp_path / "renamed.bin.txt")
    targets, _ = _split(list(walk([path], is_candidate=_is_model)))
    assert targets == [str(path)]


def test_symlink_loops_become_problems_and_nothing_repeats(tmp_path: Path) -> None:
    _touch(tmp_path / "models" / "a.safetensors")
    os.symlink(tmp_path / "models", tmp_path / "models" / "back-up")  # dir loop
    os.symlink("self.safetensors", tmp_path / "models" / "self.safetensors")  # file loop
    os.symlink(tmp_path / "models", tmp_path / "alias")  # same folder, second path
    os.symlink(tmp_path / "gone.safetensors", tmp_path / "models" / "dangling.safetensors")
    targets, problems = _split(list(walk([tmp_path], is_candidate=_is_model)))
    assert targets == [str(tmp_path / "alias" / "a.safetensors")]
    messages = sorted(p.message for p in problems)
    assert len(messages) == 3
    assert any("back-up is a symlink loop" in m for m in messages)
    assert any("self.safetensors is a symlink loop" in m for m in messages)
    assert any("dangling.safetensors is a broken symlink" in m for m in messages)
    assert not any(p.missing_root for p in problems)


def test_directory_named_like_a_model_is_a_target(tmp_path: Path) -> None:
    (tmp_path / "x.safetensors").mkdir()
    _touch(tmp_path / "x.safetensors" / "inner.safetensors")
    targets, _ = _split(list(walk([tmp_path], is_candidate=_is_model)))
    # The readers decide what a folder is; its insides are not walked twice.
    assert targets == [str(tmp_path / "x.safetensors")]


def test_missing_roots_are_flagged_and_others_go_on(tmp_path: Path) -> None:
    _touch(tmp_path / "a.safetensors")
    items = list(walk([tmp_path / "nope", tmp_path], is_candidate=_is_model))
    targets, problems = _split(items)
    assert targets == [str(tmp_path / "a.safetensors")]
    assert len(problems) == 1
    assert problems[0].missing_root
    assert problems[0].message == f"{tmp_path / 'nope'} does not exist"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_unreadable_folder_is_a_problem(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    _touch(locked / "a.safetensors")
    locked.chmod(0)
    try:
        _, problems = _split(list(walk([tmp_path], is_candidate=_is_model)))
    finally:
        locked.chmod(0o755)
    assert [p.message for p in problems] == [
        f"couldn't read {locked}: permission denied; grant read access or run as its owner"
    ]
