"""The hash record every copy-finding feature keys on.

Names and spellings ship: they are the JSON keys users search by and the
column names banks import, so they never change silently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

HASH_NAMES: tuple[str, ...] = ("sha256", "autov1", "autov2", "autov3", "blake3", "crc32")


@dataclass(frozen=True, slots=True)
class FileHashes:
    """All six hashes of one file, lowercase hex, exactly as Civitai computes them.

    ``autov1`` is None for files under 2 MiB (Civitai reports none);
    ``autov3`` is None for anything but safetensors (it hashes tensor data only).
    """

    sha256: str
    autov1: str | None
    autov2: str
    autov3: str | None
    blake3: str
    crc32: str

    def to_json(self) -> dict[str, str | None]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, str | None]) -> FileHashes:
        return cls(**{k: data.get(k) for k in HASH_NAMES})  # type: ignore[arg-type]
