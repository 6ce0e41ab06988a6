"""BankMatcher as a real scanner analyzer: matches and fingerprints land in the catalog."""

from __future__ import annotations

import pickle
from pathlib import Path

from likenessguard.banks.base import BankEntry
from likenessguard.hashing.file_hashes import hash_file
from likenessguard.pipeline.base import Analyzer
from likenessguard.pipeline.match import BankMatcher, entry_for, examine_file, find_mirrors, rematch
from likenessguard.pipeline.scanner import Scanner
from likenessguard.store.banks import add_entries, artifacts_matching, create_bank
from likenessguard.store.catalog import Catalog
from likenessguard.testing import make_lora
from likenessguard.testing.hostile import build_hostile_corpus
from likenessguard.testing.mutations import cast, kohya_to_peft


def test_scan_with_bank_matcher_flags_disguised_copies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    banned = make_lora(
        tmp_path / "src" / "jane_roe.safetensors", "sdxl", "kohya", modules=10, seed=4
    )
    uploads = tmp_path / "uploads"
    kohya_to_peft(banned, uploads / "LORA.safetensors")
    cast(banned, uploads / "Test model.safetensors", "BF16")
    make_lora(uploads / "other.safetensors", "sdxl", "kohya", modules=10, seed=5)
    catalog = Catalog.open(url)
    create_bank(catalog.engine, "bans")
    (res,) = examine_file(str(banned))
    entry = entry_for(res, subject="Jane Roe")
    assert isinstance(entry, BankEntry) and entry.fingerprint and entry.sha256
    add_entries(catalog.engine, "bans", [entry])

    analyzer = BankMatcher(url, ["bans"])
    assert isinstance(analyzer, Analyzer)
    analyzer.matcher()
    clone = pickle.loads(pickle.dumps(analyzer))  # shipped to workers without its index
    assert not clone._matcher.built

    records = {
        Path(e.record["path"]).name: e.record
        for e in Scanner(catalog, analyzers=[clone]).scan_paths([uploads])
    }
    assert records["LORA.safetensors"]["matches"][0]["method"] == "fingerprint"
    assert records["Test model.safetensors"]["matches"][0]["similarity"] > 0.99
    assert records["Test model.safetensors"]["matches"][0]["entry"]["subject"] == "Jane Roe"
    assert records["other.safetensors"]["matches"] == []
    assert all(r["fingerprint"].startswith("lgfp1:adapter:10:") for r in records.values())

    # The stored fingerprints are enough for rematch and mirrors: no file is read again.
    for p in uploads.iterdir():
        p.unlink()
    assert rematch(catalog.engine, ["bans"]).matched == 2
    assert len(artifacts_matching(catalog.engine, "bans")) == 2
    (cluster,) = find_mirrors(catalog.engine)
    assert {Path(m.path).name for m in cluster.members} == {
        "LORA.safetensors",
        "Test model.safetensors",
    }
    assert cluster.methods == ("fingerprint",)
    catalog.close()


def test_broken_uploads_sharing_a_tail_are_neither_matched_nor_clustered_by_autov3(
    tmp_path: Path,
) -> None:
    """Two different broken files with a bogus header length end in the same bytes.

    The hasher gives them one AutoV3 (the SHA-256 after the declared header, as
    A1111 and Civitai compute it), but that hashes no parsed tensor data.
    """
    corpus = build_hostile_corpus(tmp_path / "corpus")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    bad, weird = uploads / "bad_header.safetensors", uploads / "weird_metadata.safetensors"
    bad.write_bytes(corpus["invalid_json"].read_bytes())
    weird.write_bytes(corpus["non_string_metadata"].read_bytes())
    valid = make_lora(uploads / "valid.safetensors", "sd1", "kohya", modules=2, seed=1)
    assert bad.read_bytes() != weird.read_bytes()
    tails = {hash_file(bad).autov3, hash_file(weird).autov3}
    assert len(tails) == 1 and None not in tails  # the hashing layer stays Civitai-compatible
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    catalog = Catalog.open(url)
    create_bank(catalog.engine, "bans")
    tail = tails.pop()
    add_entries(
        catalog.engine,
        "bans",
        [
            BankEntry(name="tail", autov3=tail),
            BankEntry(name="lora", autov3=hash_file(valid).autov3),
        ],
    )
    records = {
        Path(e.record["path"]).name: e.record
        for e in Scanner(catalog, analyzers=[BankMatcher(url, ["bans"])]).scan_paths([uploads])
    }
    assert records["bad_header.safetensors"]["errors"]
    assert records["bad_header.safetensors"]["hashes"]["autov3"] == tail
    assert records["bad_header.safetensors"]["matches"] == []
    assert records["weird_metadata.safetensors"]["matches"] == []
    assert [m["entry"]["name"] for m in records["valid.safetensors"]["matches"]] == ["lora"]
    assert find_mirrors(catalog.engine) == []
    assert rematch(catalog.engine).matched == 1
    # Nor does ``bank add`` of a broken file ban its tail.
    (res,) = examine_file(str(bad))
    entry = entry_for(res)
    assert entry is not None and entry.sha256 and entry.autov3 is None
    catalog.close()
