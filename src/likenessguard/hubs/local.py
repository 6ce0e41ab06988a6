"""Local connector: model folders on disk, including Hugging Face cache layouts.

A platform's storage, a researcher's mirror or a machine's ``~/.cache/huggingface``
are hubs too. In the Hugging Face cache (``models--org--name/snapshots/<commit>/...``,
files symlinked to ``blobs/<sha256>`` for LFS files) the commit and every LFS
file's sha256 are already on disk, so cached files get the same
``hf://org/name@<commit>/path`` identity as the online Hub and match banks by
sha256 without hashing; plain folders get ``file://`` identities.

Layouts recognised under a root:

* ``<root>/models--org--name/`` (root is a cache's ``hub/`` folder), or
  ``<root>/hub/models--org--name/`` (root is the cache folder itself): one repo
  per cached model, at each revision a ref (``refs/main``...) points to, or at
  every snapshot when there are no refs;
* anything else: each sub-folder of the root is a repo, and files directly in
  the root form the repo ``.``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from likenessguard.artifacts.base import ByteSource, FileSource
from likenessguard.errors import HubNotFound, UsageError
from likenessguard.hubs.base import Download, FileRef, RepoQuery, RepoRef

HUB = "local"
CACHE_PREFIX = "models--"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


class LocalConnector:
    """Treats a folder (or a Hugging Face cache) as a hub.

    Args:
        root: the folder to serve.
    """

    hub = HUB

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise UsageError(f"{self.root} is not a folder: pass a model folder or an HF cache")
        hub_dir = self.root / "hub"
        self.cache_dir: Path | None = None
        if any(p.name.startswith(CACHE_PREFIX) for p in self._dirs(self.root)):
            self.cache_dir = self.root
        elif hub_dir.is_dir() and any(p.name.startswith(CACHE_PREFIX) for p in self._dirs(hub_dir)):
            self.cache_dir = hub_dir

    @staticmethod
    def _dirs(path: Path) -> list[Path]:
        try:
            return sorted(p for p in path.iterdir() if p.is_dir())
        except OSError:
            return []

    def close(self) -> None:
        """Nothing to release: every read opens and closes its own file."""

    # -- listing --

    def _cache_repos(self, cache: Path) -> Iterator[RepoRef]:
        for folder in self._dirs(cache):
            if not folder.name.startswith(CACHE_PREFIX):
                continue
            repo_id = folder.name[len(CACHE_PREFIX) :].replace("--", "/")
            snapshots = folder / "snapshots"
            revisions: list[str] = []
            refs = folder / "refs"
            if refs.is_dir():
                for ref in sorted(refs.rglob("*")):
                    if ref.is_file():
                        sha = ref.read_text(encoding="utf-8").strip()
                        if (snapshots / sha).is_dir() and sha not in revisions:
                            revisions.append(sha)
            if not revisions:
                revisions = [p.name for p in self._dirs(snapshots)]
            for sha in revisions:
                snap = snapshots / sha
                yield RepoRef(
                    hub="huggingface",
                    repo=repo_id,
                    revision=sha,
                    last_modified=_mtime(snap),
                    author=repo_id.split("/", 1)[0] if "/" in repo_id else None,
                    url=snap.as_uri(),
                    raw={"dir": str(snap)},
                )

    def _folder_repos(self) -> Iterator[RepoRef]:
        if any(p.is_file() for p in self.root.iterdir()):
            yield RepoRef(
                hub=HUB,
                repo=".",
                last_modified=_mtime(self.root),
                url=self.root.as_uri(),
                raw={"dir": str(self.root), "flat": True},
            )
        for folder in self._dirs(self.root):
            yield RepoRef(
                hub=HUB,
                repo=folder.name,
                last_modified=_mtime(folder),
                url=folder.as_uri(),
                raw={"dir": str(folder)},
            )

    def list_repos(self, query: RepoQuery) -> Iterator[RepoRef]:
        repos = self._cache_repos(self.cache_dir) if self.cache_dir else self._folder_repos()
        count = 0
        for ref in repos:
            if query.author and ref.author != query.author:
                continue
            if query.search and query.search.lower() not in ref.repo.lower():
                continue
            if query.since and ref.last_modified and ref.last_modified < query.since:
                continue
            if query.limit is not None and count >= query.limit:
                return
            count += 1
            yield ref

    def repo(self, repo_id: str, revision: str | None = None) -> RepoRef:
        for ref in self.list_repos(RepoQuery()):
            if ref.repo == repo_id and (revision is None or ref.revision == revision):
                return ref
        raise HubNotFound(f"{repo_id} is not under {self.root}")

    def list_files(self, repo: RepoRef) -> list[FileRef]:
        base = Path(str(repo.raw["dir"]))
        flat = bool(repo.raw.get("flat"))
        paths = sorted(p for p in (base.iterdir() if flat else base.rglob("*")) if p.is_file())
        files = []
        for p in paths:
            rel = p.relative_to(base).as_posix()
            real = p.resolve()
            sha256 = None
            if repo.hub == "huggingface":
                # Cached LFS files are symlinks to blobs named by their sha256.
                if _SHA256.fullmatch(real.name):
                    sha256 = real.name
                uri = f"hf://{repo.repo}@{repo.revision}/{rel}"
            else:
                uri = real.as_uri()
            files.append(
                FileRef(
                    repo=repo,
                    path=rel,
                    size=real.stat().st_size,
                    url=real.as_uri(),
                    uri=uri,
                    sha256=sha256,
                    raw={"file": str(real)},
                )
            )
        return files

    # -- reading --

    def read_header(self, file: FileRef) -> ByteSource:
        return FileSource(str(file.raw["file"]))

    def open(self, file: FileRef) -> ByteSource:
        return FileSource(str(file.raw["file"]))

    def read_card(self, repo: RepoRef) -> str | None:
        card = Path(str(repo.raw["dir"])) / "README.md"
        try:
            return card.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    @contextmanager
    def download(self, file: FileRef, directory: Path | None = None) -> Iterator[Download]:
        """The file is already local: hash it in place (nothing is copied or deleted)."""
        from likenessguard.hashing.file_hashes import hash_file

        path = Path(str(file.raw["file"]))
        yield Download(file, path, hash_file(path), path.stat().st_size)
