"""Hugging Face connector: the real ``huggingface_hub`` client to list, ranged reads for headers.

What it costs per repo (measured in bench/bench_hubs.py, budgeted in docs/hubs.md):

* listing: one request per page of up to 1000 repos, each carrying the repo's
  commit ``sha`` and ``lastModified`` (``expand``), so an incremental crawl
  knows which repos changed without touching them;
* files: one ``tree`` request per changed repo; every LFS file comes with its
  sha256 and size (``lfs.oid``), so bank matching by sha256 reads no content;
* headers: at most two ranged GETs per safetensors file, pinned to the commit
  the listing reported, so a repo that changes mid-crawl is read consistently.

Everything goes through :class:`~likenessguard.hubs.http.PoliteClient`, which
rate-limits, backs off on 429/5xx and turns refusals into one-line errors.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from likenessguard.artifacts.base import ByteSource
from likenessguard.errors import HubAuthError, HubError, HubNotFound
from likenessguard.hubs.base import Download, FileRef, RepoQuery, RepoRef
from likenessguard.hubs.http import RETRY_STATUS, PoliteClient, Politeness, describe_status
from likenessguard.hubs.remote import (
    DEFAULT_MAX_DOWNLOAD,
    RemoteSource,
    download_file,
    fetch_header,
)

HUB = "huggingface"
DEFAULT_ENDPOINT = "https://huggingface.co"
TOKEN_HINT = "set HF_TOKEN or pass --token"  # noqa: S105 (a message, not a secret)

# Properties asked of the listing: enough to decide "changed since last crawl"
# and to filter, nothing that makes the Hub compute per-repo extras.
LIST_EXPAND: list[str] = ["sha", "lastModified", "author", "tags", "private", "gated", "createdAt"]


def hf_uri(repo: str, revision: str | None, path: str) -> str:
    """The catalog identity of a Hugging Face file: ``hf://org/name@<commit>/path``."""
    return f"hf://{repo}@{revision or 'main'}/{path}"


def _classify(exc: BaseException) -> tuple[int | None, Mapping[str, str]]:
    """Map an exception from ``huggingface_hub`` to (HTTP status or None, headers)."""
    import httpx2
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, GatedRepoError):
        return 403, {}
    if isinstance(exc, RepositoryNotFoundError | RevisionNotFoundError | EntryNotFoundError):
        return 404, {}
    if isinstance(exc, HfHubHTTPError):
        return exc.response.status_code, dict(exc.response.headers)
    if isinstance(exc, httpx2.TransportError | ValueError) and "JSON" in type(exc).__name__:
        return None, {}
    if isinstance(exc, httpx2.TransportError):
        return None, {}
    return -1, {}


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class HuggingFaceConnector:
    """Lists and reads model repos on a Hugging Face Hub (or a server speaking its API).

    Args:
        endpoint: the Hub URL (default https://huggingface.co, or ``HF_ENDPOINT``).
        token: a user access token; default ``HF_TOKEN`` from the environment.
        policy: rate limit, concurrency, retries and timeouts.
        max_download: cap in bytes for whole-file downloads (fingerprinting suspects).
        expand_tree: ask the tree listing for last-commit and security-scan
            fields too (slower on the real Hub; not needed for sha256 matching,
            which ``lfs`` gives without it).

    Example::

        hf = HuggingFaceConnector(token=os.environ.get("HF_TOKEN"))
        for repo in hf.list_repos(RepoQuery(author="acme", limit=10)):
            for f in hf.list_files(repo):
                print(f.uri, f.sha256)
    """

    hub = HUB

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | None = None,
        *,
        policy: Politeness | None = None,
        max_download: int = DEFAULT_MAX_DOWNLOAD,
        expand_tree: bool = False,
    ) -> None:
        from huggingface_hub import HfApi, constants

        if constants.is_offline_mode():
            raise HubError(
                "HF_HUB_OFFLINE is set, so the Hugging Face client refuses every request "
                "(even to a local endpoint); unset it to crawl"
            )
        self.endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        self.token = token or os.environ.get("HF_TOKEN") or None
        self.max_download = max_download
        self.expand_tree = expand_tree
        # token=False keeps the client from silently using a login saved on
        # this machine: what we scan with must be what the user asked for.
        self.api = HfApi(endpoint=self.endpoint, token=self.token or False)
        headers = {"User-Agent": "likenessguard (trust-and-safety scanner)"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self.http = PoliteClient(
            "Hugging Face", token_hint=TOKEN_HINT, headers=headers, policy=policy
        )

    def close(self) -> None:
        self.http.close()

    # -- listing --

    def _repo_ref(self, info: Any, revision: str | None = None) -> RepoRef:
        gated = getattr(info, "gated", False)
        return RepoRef(
            hub=HUB,
            repo=info.id,
            revision=revision or info.sha,
            last_modified=_as_utc(info.last_modified),
            author=info.author or (info.id.split("/", 1)[0] if "/" in info.id else None),
            tags=tuple(info.tags or ()),
            private=bool(info.private),
            gated=bool(gated) and gated != "false",
            url=f"{self.endpoint}/{info.id}",
        )

    def list_repos(self, query: RepoQuery) -> Iterator[RepoRef]:
        """Yield model repos, most recently modified first, each pinned to its commit sha."""

        def start() -> Iterator[Any]:
            return iter(
                self.api.list_models(
                    author=query.author,
                    search=query.search,
                    filter=list(query.tags) or None,
                    sort="last_modified",
                    expand=LIST_EXPAND,  # type: ignore[arg-type]
                    limit=query.limit,
                )
            )

        items = self.http.call("listing models", start, _classify)
        seen = 0
        while True:
            # No retry here: a generator that raised is finished, and retrying
            # it would end the listing silently. The client already retried
            # each page (http_backoff); what gets through is a real failure.
            try:
                info = next(items, None)
            except Exception as exc:
                status, _ = _classify(exc)
                if status == -1:
                    raise
                if status is not None and status not in RETRY_STATUS:
                    raise describe_status(
                        self.http.hub, status, f"{self.endpoint}/api/models", TOKEN_HINT
                    ) from exc
                raise HubError(
                    f"listing models on {self.endpoint} failed after {seen} repos "
                    f"({type(exc).__name__}: {exc}); run the crawl again: it resumes"
                ) from exc
            if info is None:
                return
            seen += 1
            ref = self._repo_ref(info)
            if query.since and ref.last_modified and ref.last_modified < query.since:
                # Sorted newest first: everything after this is older still.
                return
            yield ref

    def repo(self, repo_id: str, revision: str | None = None) -> RepoRef:
        """One repo's current head (or ``revision``), pinned to its commit sha."""
        info = self.http.call(
            f"{self.endpoint}/api/models/{repo_id}",
            lambda: self.api.model_info(repo_id, revision=revision),
            _classify,
        )
        return self._repo_ref(info)

    def list_files(self, repo: RepoRef) -> list[FileRef]:
        """Every file at the repo's pinned commit, LFS files with their sha256 and size."""
        from huggingface_hub.hf_api import RepoFile

        revision = repo.revision or "main"
        entries = self.http.call(
            f"{self.endpoint}/api/models/{repo.repo}/tree/{revision}",
            lambda: list(
                self.api.list_repo_tree(
                    repo.repo, revision=revision, recursive=True, expand=self.expand_tree
                )
            ),
            _classify,
        )
        files = []
        for e in entries:
            if not isinstance(e, RepoFile):
                continue
            files.append(
                FileRef(
                    repo=repo,
                    path=e.path,
                    size=int(e.size),
                    url=self.resolve_url(repo.repo, revision, e.path),
                    uri=hf_uri(repo.repo, revision, e.path),
                    sha256=e.lfs.sha256.lower() if e.lfs is not None else None,
                    blob_id=e.blob_id,
                )
            )
        return files

    def resolve_url(self, repo: str, revision: str, path: str) -> str:
        return f"{self.endpoint}/{repo}/resolve/{quote(revision, safe='')}/{quote(path)}"

    # -- reading --

    def read_header(self, file: FileRef) -> ByteSource:
        return fetch_header(self.http, file.url, file.size, name=file.uri)

    def open(self, file: FileRef) -> ByteSource:
        return RemoteSource(self.http, file.url, file.size, name=file.uri)

    def read_card(self, repo: RepoRef) -> str | None:
        """README.md at the pinned commit, or None when the repo has none."""
        url = self.resolve_url(repo.repo, repo.revision or "main", "README.md")
        try:
            response = self.http.get(url)
        except HubNotFound:
            return None
        except HubAuthError:
            raise
        return response.content.decode("utf-8", errors="replace")

    @contextmanager
    def download(self, file: FileRef, directory: Path | None = None) -> Iterator[Download]:
        """Stream the file to a temp file (capped, hashed, sha256-checked); deleted on exit."""
        with download_file(
            self.http, file, max_bytes=self.max_download, directory=directory
        ) as download:
            yield download
