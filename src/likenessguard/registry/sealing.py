"""Requester data at rest: what a takedown requester gave us, encrypted.

A takedown request holds the names of a person and a way to reach them. Until a
reviewer accepts it, nothing of it may act on verdicts, and none of it should be
readable from a copy of the database (a backup, a stolen disk, a support dump).
So the names, aliases, handles, links and contact of a request are sealed into
one Fernet token (AES-128-CBC + HMAC-SHA256) with a key that lives outside the
database: the ``requester_key`` setting, or a key file generated in the data
directory the first time one is needed.

Keys rotate with :class:`cryptography.fernet.MultiFernet`: the setting holds
several keys separated by commas, newest first; tokens made with any of them
open, new tokens use the first, and ``likenessguard takedown rotate-key``
re-seals every stored request with the first key so the old ones can be dropped.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from likenessguard.config import data_dir
from likenessguard.errors import ConfigError

KEY_FILE = "requester_key"
log = logging.getLogger("likenessguard.requester")


def generate_key() -> str:
    """A fresh random key (32 bytes, url-safe base64, as Fernet wants)."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(text: str) -> list[str]:
    """Keys from a setting or key file: separated by commas or new lines, newest first."""
    return [k.strip() for k in text.replace("\n", ",").split(",") if k.strip()]


class Sealer:
    """Seals and opens requester data with a key ring (first key seals, all keys open).

    >>> s = Sealer([generate_key()])
    >>> s.open(s.seal({"contact": "jane@example.org"}))
    {'contact': 'jane@example.org'}
    """

    def __init__(self, keys: Sequence[str], *, origin: str = "the requester_key setting") -> None:
        if not keys:
            raise ConfigError(f"{origin} holds no key: generate one with `takedown new-key`")
        fernets: list[Fernet] = []
        for n, key in enumerate(keys, 1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                raise ConfigError(
                    f"key {n} in {origin} is not a Fernet key (32 url-safe base64 bytes): "
                    "generate one with `likenessguard takedown new-key`"
                ) from None
        self.keys = tuple(keys)
        self.origin = origin
        self._ring = MultiFernet(fernets)

    def seal(self, value: Mapping[str, Any]) -> str:
        """Encrypt a JSON-able mapping into one token (text, safe for a Text column)."""
        data = json.dumps(dict(value), ensure_ascii=False, separators=(",", ":"))
        return self._ring.encrypt(data.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> dict[str, Any]:
        """Decrypt a token made by :meth:`seal` with any key of the ring.

        Raises:
            ConfigError: no key of the ring opens it (a key was dropped too early).
        """
        try:
            data = self._ring.decrypt(token.encode("ascii"))
        except InvalidToken:
            raise ConfigError(
                f"a stored takedown request cannot be decrypted with the keys in {self.origin}: "
                "put the previous key back after the new one (new,old) and run "
                "`likenessguard takedown rotate-key`"
            ) from None
        value = json.loads(data)
        if not isinstance(value, dict):
            raise ConfigError("a stored takedown request is not an object: the row is corrupt")
        return value

    def reseal(self, token: str) -> str:
        """The same data sealed with the first key (for rotation)."""
        try:
            return self._ring.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise ConfigError(
                f"a stored takedown request cannot be decrypted with the keys in {self.origin}: "
                "the key that sealed it is missing"
            ) from None


def key_file(path: Path | None = None) -> Path:
    return path or data_dir() / KEY_FILE


def requester_sealer(setting: str = "", *, path: Path | None = None) -> Sealer:
    """The deployment's sealer: keys from ``setting`` if given, else the key file.

    The key file (mode 0600, one key per line, newest first) is generated on first
    use and a warning says where it is: it must be backed up with the database,
    and shared by every process that serves the same catalog.
    """
    keys = parse_keys(setting)
    if keys:
        return Sealer(keys)
    file = key_file(path)
    if file.is_file():
        keys = parse_keys(file.read_text(encoding="utf-8"))
        if keys:
            return Sealer(keys, origin=str(file))
    file.parent.mkdir(parents=True, exist_ok=True)
    # Several workers may start at once: the key is written to a private temporary
    # file and linked into place, which fails if another process got there first;
    # then everyone uses the one key that won.
    tmp = file.with_name(f".{file.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(generate_key() + "\n")
    try:
        os.link(tmp, file)
    except FileExistsError:
        pass
    else:
        log.warning(
            "generated a requester key for takedown data at %s: back it up with the catalog "
            "(without it stored takedown requests cannot be read), or set requester_key",
            file,
        )
    finally:
        tmp.unlink(missing_ok=True)
    return Sealer(parse_keys(file.read_text(encoding="utf-8")), origin=str(file))
