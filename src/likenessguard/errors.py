"""One exception hierarchy for the environment and for bugs.

Bad *input* (a hostile or broken model file, a malformed listing) is never an
exception that escapes a scan: readers turn it into a record with ``errors``.
These exceptions are for what the caller must fix: a missing database, a bad
URL, an unreachable hub, a usage mistake.

::

    LikenessGuardError
    ├── ConfigError            settings or a policy file are wrong
    ├── UsageError             the caller asked for something impossible
    ├── ArtifactError          a file could not be read as a model artifact
    │   └── UnsafeArtifact     reading it would require executing code
    ├── StoreError             the catalog could not be opened or written
    ├── BankError              a bank file or bank operation is invalid
    │   └── BankFileError      a bank file has a bad line (carries the line number)
    └── HubError               a model hub could not be reached or answered wrongly
        ├── HubAuthError       credentials were missing or refused
        ├── HubNotFound        the repo, model or file does not exist
        └── HubRateLimited     the hub asked us to slow down beyond our patience

Every message says what happened, where, and what to do.
"""

from __future__ import annotations


class LikenessGuardError(Exception):
    """Base of every error likenessguard raises on purpose."""


class ConfigError(LikenessGuardError):
    """Settings, a policy file or a registry file are invalid."""


class UsageError(LikenessGuardError):
    """The caller asked for something that cannot be done as asked."""


class ArtifactError(LikenessGuardError):
    """A file could not be read as a model artifact; the message is one line."""


class UnsafeArtifact(ArtifactError):
    """Reading the file would require executing code embedded in it."""


class StoreError(LikenessGuardError):
    """The catalog database could not be opened, migrated or written."""


class BankError(LikenessGuardError):
    """A bank operation is invalid (unknown bank, bad entry)."""


class BankFileError(BankError):
    """A bank import file has a malformed line."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line


class HubError(LikenessGuardError):
    """A model hub could not be reached or answered something unusable."""


class HubAuthError(HubError):
    """The hub refused our credentials or needs some."""


class HubNotFound(HubError):
    """The repo, model or file does not exist (or is private)."""


class HubRateLimited(HubError):
    """The hub kept asking us to slow down for longer than we are willing to wait."""
