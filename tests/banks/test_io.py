"""Bank files: spreadsheets, JSONL and Civitai objects in; CSV/JSONL out; bad lines named."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from likenessguard.banks.base import BankEntry
from likenessguard.banks.io import merge_duplicates, parse_bank_text, read_bank_file, write_bank
from likenessguard.errors import BankFileError

SHA_A = "a" * 64
SHA_B = "B" * 64


def test_researchers_spreadsheet_with_sha256_column() -> None:
    text = f"Model Name,SHA256,URL\nJane Roe v2,{SHA_A.upper()},https://example.org/m/1\nOther,{SHA_B},\n"
    got = parse_bank_text(text, "removed.csv")
    assert [e.sha256 for e in got.entries] == [SHA_A, SHA_B.lower()]
    assert got.entries[0].name == "Jane Roe v2"
    assert got.entries[0].source_url == "https://example.org/m/1"


def test_bad_csv_line_is_named_and_nothing_is_imported() -> None:
    text = f"name,sha256\nok,{SHA_A}\nbad,xyz\nalso bad,\n"
    with pytest.raises(BankFileError) as err:
        parse_bank_text(text, "bank.csv")
    assert err.value.line == 3
    assert str(err.value).startswith("line 3: bank.csv: sha256 must be 64 hex digits, got 'xyz'")
    assert "and 1 more bad lines" in str(err.value) and "--skip-bad" in str(err.value)
    got = parse_bank_text(text, "bank.csv", skip_bad=True)
    assert [e.name for e in got.entries] == ["ok"]
    assert got.errors[0].startswith("line 3:") and got.errors[1].startswith("line 4: no hash")


def test_a_header_without_hash_columns_is_refused() -> None:
    with pytest.raises(BankFileError, match="names no hash column"):
        parse_bank_text("name,notes\nx,y\n", "b.csv")


def test_jsonl_with_a_broken_line() -> None:
    text = json.dumps({"sha256": SHA_A, "reason": "takedown"}) + "\n{oops\n"
    with pytest.raises(BankFileError) as err:
        parse_bank_text(text, "b.jsonl")
    assert err.value.line == 2 and "not valid JSON" in str(err.value)


def _civitai_model() -> dict[str, object]:
    return {
        "id": 101,
        "name": "Mary Major",
        "modelVersions": [
            {
                "id": 202,
                "name": "v1",
                "files": [
                    {
                        "name": "mm.safetensors",
                        "hashes": {
                            "AutoV1": "ABCDEF12",
                            "AutoV2": SHA_A[:10].upper(),
                            "SHA256": SHA_A.upper(),
                            "CRC32": "0D4A1185",
                            "BLAKE3": "c" * 64,
                            "AutoV3": "D" * 12,
                        },
                    },
                    {"name": "no-hashes.zip", "hashes": {}},
                ],
            }
        ],
    }


def test_civitai_api_objects_and_listing_shape(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"items": [_civitai_model()]}))
    (entry,) = read_bank_file(path).entries
    assert entry.sha256 == SHA_A and entry.autov3 == "d" * 12 and entry.crc32 == "0d4a1185"
    assert entry.source_url == "https://civitai.com/models/101?modelVersionId=202"
    assert entry.name == "Mary Major / v1 / mm.safetensors"
    listing = {
        "id": 5,
        "name": "x",
        "versions": [{"id": 6, "files": [{"hashes": {"sha256": SHA_B}}]}],
    }
    (e2,) = parse_bank_text(json.dumps(listing) + "\n", "listing.jsonl").entries
    assert e2.sha256 == SHA_B.lower()


def test_duplicates_are_merged_not_doubled() -> None:
    entries = [
        BankEntry(name="first", sha256=SHA_A),
        BankEntry(sha256=SHA_A, autov3="d" * 64, source_url="u"),
        BankEntry(autov3="d" * 64, blake3="c" * 64),
        BankEntry(crc32="0d4a1185"),
        BankEntry(crc32="0d4a1185"),  # a short hash alone never merges
    ]
    merged, folded = merge_duplicates(entries)
    assert folded == 2 and len(merged) == 3
    assert merged[0] == BankEntry(
        name="first", sha256=SHA_A, autov3="d" * 64, blake3="c" * 64, source_url="u"
    )


hex64 = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
maybe = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(categories=["L", "N", "Zs"]), min_size=1, max_size=20)
    .map(str.strip)
    .filter(bool),
)


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(
        st.builds(
            BankEntry,
            name=maybe,
            sha256=hex64,
            autov2=st.one_of(
                st.none(), st.text(alphabet="0123456789abcdef", min_size=10, max_size=10)
            ),
            crc32=st.one_of(
                st.none(), st.text(alphabet="0123456789abcdef", min_size=8, max_size=8)
            ),
            reason=maybe,
            subject=maybe,
            disabled=st.booleans(),
        ),
        max_size=8,
    ),
    fmt=st.sampled_from(["csv", "jsonl"]),
)
def test_export_import_round_trip(rows: list[BankEntry], fmt: str) -> None:
    out = io.StringIO()
    assert write_bank(rows, out, fmt) == len(rows)
    if not rows:
        return
    back = parse_bank_text(out.getvalue(), f"bank.{fmt}").entries
    assert list(back) == rows


def test_fingerprints_travel_in_exports() -> None:
    import numpy as np

    from likenessguard.hashing.fingerprint import DIM, Fingerprint

    vec = np.ones(DIM, dtype=np.float32)
    fp = Fingerprint(kind="adapter", modules=3, vector=vec / np.linalg.norm(vec)).to_text()
    out = io.StringIO()
    write_bank([BankEntry(name="fp only", fingerprint=fp)], out, "csv")
    (entry,) = parse_bank_text(out.getvalue(), "x.csv").entries
    assert entry.fingerprint == fp
    with pytest.raises(BankFileError, match="not a likenessguard fingerprint"):
        parse_bank_text("fingerprint\nnope\n", "x.csv")
