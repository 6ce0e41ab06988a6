"""The package's public API: sorted, complete, and every name resolves to what it says."""

from __future__ import annotations

import subprocess
import sys

import likenessguard


def test_all_is_sorted_and_matches_the_export_table() -> None:
    assert likenessguard.__all__ == sorted(likenessguard.__all__)
    assert set(likenessguard.__all__) == set(likenessguard._EXPORTS) | {"__version__"}


def test_every_public_name_resolves() -> None:
    for name in likenessguard.__all__:
        assert getattr(likenessguard, name) is not None


def test_import_is_cheap() -> None:
    # The CLI and workers import the package; numpy and SQLAlchemy load only when used.
    code = "import sys, likenessguard; print('numpy' in sys.modules, 'sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_api_reads_hashes_and_judges_a_lora(tmp_path: object) -> None:
    from pathlib import Path

    from likenessguard.testing import kohya_metadata, make_lora

    path = make_lora(
        Path(str(tmp_path)) / "jane_roe.safetensors",
        family="sd1",
        modules=4,
        metadata=kohya_metadata(
            output_name="jane_roe",
            trigger="jnrw",
            class_word="woman",
            tags={"jnrw": 20, "woman": 20, "photorealistic": 18},
        ),
    )
    artifact = likenessguard.read_artifacts(path)[0]
    hashes = likenessguard.hash_file(path, data_offset=artifact.data_offset)
    verdict = likenessguard.judge(likenessguard.collect_local_context(path, artifact))
    assert artifact.identity.kind == "lora"
    assert hashes.autov3 is not None
    assert verdict.labels[likenessguard.Label.REAL_PERSON].fired
