"""Takedown storage: existing catalogs upgrade to sealed requests, and keys rotate.

The upgrade test builds a catalog at the previous head (``review_0001``, with
plaintext requests as the old code wrote them) and opens it with today's code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from likenessguard.cli.app import build_app
from likenessguard.errors import ConfigError
from likenessguard.registry.sealing import Sealer, generate_key
from likenessguard.store import review
from likenessguard.store.db import alembic_config, make_engine, migrate, open_catalog


def test_a_catalog_with_plaintext_requests_upgrades_to_sealed_ones(
    catalog_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_key()
    monkeypatch.setenv("LIKENESSGUARD_REQUESTER_KEY", key)
    engine = make_engine(catalog_url)
    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "review_0001")
    with engine.begin() as conn:
        for n, status in ((1, "pending"), (2, "active")):
            conn.execute(
                text(
                    "INSERT INTO takedowns (number, token_hash, status, names, aliases, handles,"
                    " links, contact, relation, subject_id, searched_through, created_at)"
                    " VALUES (:number, :th, :status, :names, '[]', '[\"janeroe\"]', '[]',"
                    " :contact, 'self', NULL, 0, :at)"
                ),
                {
                    "number": f"TD-0000000{n}",
                    "th": f"{n:064d}",
                    "status": status,
                    "names": f'["Old Person {n}"]',
                    "contact": f"old{n}@example.org",
                    "at": datetime(2026, 11, 30, tzinfo=UTC),
                },
            )
    migrate(engine)
    columns = {c["name"] for c in inspect(engine).get_columns("takedowns")}
    assert {"sealed", "reviewed_by", "reviewed_at"} <= columns
    assert not columns & {"names", "aliases", "handles", "links", "contact"}
    sealer = Sealer([key])
    pending = review.list_takedowns(engine, sealer, status="pending")
    accepted = review.list_takedowns(engine, sealer, status="accepted")
    assert [(t.names, t.contact, t.handles) for t in pending] == [
        (("Old Person 1",), "old1@example.org", ("janeroe",))
    ]
    assert [t.number for t in accepted] == ["TD-00000002"]
    with engine.connect() as conn:
        raw = " ".join(str(v) for v in conn.execute(text("SELECT * FROM takedowns")).all())
    assert "old1@example.org" not in raw and "Old Person" not in raw
    engine.dispose()


def test_rotate_key_re_encrypts_every_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("LIKENESSGUARD_DB", url)
    old, new = generate_key(), generate_key()
    engine = open_catalog(url)
    review.create_takedown(
        engine, sealer=Sealer([old]), names=["Jane Roe"], contact="jr@example.org", relation="self"
    )
    runner = CliRunner()
    # the setting: new key first, then the old one; rotate; the old key can go
    monkeypatch.setenv("LIKENESSGUARD_REQUESTER_KEY", f"{new},{old}")
    result = runner.invoke(build_app(), ["takedown", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 takedown request(s)" in result.output
    (td,) = review.list_takedowns(engine, Sealer([new]))
    assert td.contact == "jr@example.org"
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        review.list_takedowns(engine, Sealer([old]))
    # the key file: rotate-key makes a new key, re-encrypts, drops the old one
    monkeypatch.delenv("LIKENESSGUARD_REQUESTER_KEY")
    key_file = tmp_path / "data" / "likenessguard" / "requester_key"
    key_file.parent.mkdir(parents=True)
    key_file.write_text(new + "\n", encoding="utf-8")
    result = runner.invoke(build_app(), ["takedown", "rotate-key"])
    assert result.exit_code == 0, result.output
    (newest,) = key_file.read_text(encoding="utf-8").split()
    assert newest not in (old, new)
    (td,) = review.list_takedowns(engine, Sealer([newest]))
    assert td.names == ("Jane Roe",)
    assert len(runner.invoke(build_app(), ["takedown", "new-key"]).output.strip()) == 44
    engine.dispose()


def test_the_key_file_is_generated_once_and_shared(tmp_path: Path) -> None:
    import threading

    from likenessguard.registry.sealing import requester_sealer

    path = tmp_path / "data" / "requester_key"
    sealers: list[Sealer] = []
    threads = [
        threading.Thread(target=lambda: sealers.append(requester_sealer("", path=path)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({s.keys for s in sealers}) == 1 and len(sealers) == 8
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["requester_key"]
    token = sealers[0].seal({"contact": "x"})
    assert requester_sealer("", path=path).open(token) == {"contact": "x"}
