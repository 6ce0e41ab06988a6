"""Exact hash lookups against banks of any size, at dictionary speed.

A bank of a million removed models is a set of hex strings; matching a file is
six dictionary lookups. Keys are the lowercase hex itself (a file's hashes are
already lowercase, so the hot path only slices: no parsing per lookup), AutoV3
is keyed on the 12-hex prefix Civitai shows (so a full hash finds a prefix
entry and vice versa), and CRC-32 is indexed in both byte orders because tools
disagree on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from likenessguard.banks.base import HASH_LENGTHS, HASH_STRENGTH, BankEntry, SignalIndex

#: How many leading hex digits of each hash are the lookup key.
KEY_HEX: Mapping[str, int] = {
    "sha256": 64,
    "autov1": 8,
    "autov2": 10,
    "autov3": 12,
    "blake3": 64,
    "crc32": 8,
}


_HEX = frozenset("0123456789abcdef")


def lookup_key(name: str, value: str) -> str | None:
    """The index key of a hash value, or None when it cannot be one (wrong length, not hex)."""
    text = value.strip().lower()
    if len(text) not in HASH_LENGTHS[name] and not (name == "autov3" and len(text) >= 12):
        return None
    if not set(text) <= _HEX:
        return None
    return text[: KEY_HEX[name]]


DEFINITIVE = frozenset({"sha256", "blake3"})


def swap_bytes(key: str) -> str:
    """A hex key with its bytes in reverse order (CRC-32's other spelling)."""
    return bytes.fromhex(key)[::-1].hex()


class ExactIndex(SignalIndex[str]):
    """One hash kind (e.g. ``sha256``) -> entry ids."""

    def __init__(self, name: str) -> None:
        if name not in KEY_HEX:
            raise ValueError(f"unknown hash {name!r}: use one of {', '.join(KEY_HEX)}")
        self.name = name
        self._map: dict[str, int | list[int]] = {}
        self._count = 0

    def add(self, signal: str, entry_id: int) -> None:
        key = lookup_key(self.name, signal)
        if key is None:
            raise ValueError(f"{self.name} {signal!r} is not a valid hash")
        swapped = swap_bytes(key) if self.name == "crc32" else key
        keys = [key, swapped] if swapped != key else [key]
        for k in keys:
            old = self._map.get(k)
            if old is None:
                self._map[k] = entry_id  # most keys hold one entry: no list for them
            elif isinstance(old, int):
                if old != entry_id:
                    self._map[k] = [old, entry_id]
            elif entry_id not in old:
                old.append(entry_id)
        self._count += 1

    def ids(self, signal: str) -> list[int]:
        key = lookup_key(self.name, signal)
        if key is None:
            return []
        got = self._map.get(key)
        if got is None:
            return []
        return [got] if isinstance(got, int) else list(got)

    def query(self, signal: str) -> list[tuple[int, float]]:
        return [(i, 1.0) for i in self.ids(signal)]

    def __len__(self) -> int:
        return self._count


class HashMatcher:
    """All six exact indexes over a set of entries, with cross-checks between hashes.

    A weak hash (CRC-32, AutoV1, AutoV2, a 12-hex AutoV3) can collide; an entry
    found through one is only reported when no hash that both sides hold disagrees.
    """

    def __init__(self, entries: Iterable[BankEntry] = ()) -> None:
        self.indexes = {name: ExactIndex(name) for name in HASH_STRENGTH}
        # (name, key width, table) of the non-empty indexes only: a bank of bare
        # sha256 lines costs one probe per file, not six.
        self._probes: list[tuple[str, int, dict[str, int | list[int]]]] = []
        self.entries: dict[int, BankEntry] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: BankEntry) -> None:
        if entry.id is None:
            raise ValueError("bank entries need an id before they are indexed")
        self.entries[entry.id] = entry
        for name, value in entry.hashes().items():
            index = self.indexes[name]
            if not len(index):
                self._probes.append((name, KEY_HEX[name], index._map))
                self._probes.sort(key=lambda p: HASH_STRENGTH.index(p[0]))
            index.add(value, entry.id)

    def lookup(self, hashes: Mapping[str, str | None]) -> list[tuple[BankEntry, str]]:
        """Entries matching any of ``hashes``, each with its strongest agreeing method."""
        # The hot path of every scan: one dict probe per hash, no per-call allocation
        # beyond the key bytes, and the cross-check only for the (rare) hits.
        found: dict[int, str] | None = None
        for name, width, table in self._probes:
            value = hashes.get(name)
            if not value:
                continue
            got = table.get(value[:width].lower())
            if got is None:
                continue
            if found is None:
                found = {}
            for entry_id in (got,) if isinstance(got, int) else got:
                found.setdefault(entry_id, name)
        if found is None:
            return []
        out = []
        for entry_id, method in found.items():
            entry = self.entries[entry_id]
            # Equal sha256/blake3 is the same file: nothing weaker can contradict it.
            if method in DEFINITIVE or consistent(entry, hashes):
                out.append((entry, method))
        return out

    def __len__(self) -> int:
        return len(self.entries)


def _same(name: str, a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    if name == "crc32":
        try:
            return a == b or swap_bytes(a) == b
        except ValueError:
            return False
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def consistent(entry: BankEntry, hashes: Mapping[str, str | None]) -> bool:
    """False when a hash held by both the entry and the file differs (a weak-hash collision)."""
    for name, value in entry.hashes().items():
        other = hashes.get(name)
        if other and not _same(name, value, other):
            return False
    # AutoV2 is the SHA256 prefix: an entry's autov2 must agree with the file's sha256.
    sha = hashes.get("sha256")
    if entry.autov2 and sha and not sha.lower().startswith(entry.autov2):
        return False
    return not (
        entry.sha256
        and hashes.get("autov2")
        and not _same("autov2", entry.sha256, hashes["autov2"] or "")
    )
