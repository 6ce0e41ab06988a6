"""Civitai connector: the public REST API, records kept in the shape classify-listings reads.

Civitai already publishes all six hashes of every file (AutoV1, AutoV2,
SHA256, CRC32, BLAKE3, AutoV3), so a Civitai crawl can match banks without
fetching a byte of weights; and its listings (name, tags, description, trigger
words, preview prompts) are the evidence the listing classifier judges. The
listing is converted to the record shape of ``/work/shared/data`` (see
:func:`to_listing` and docs/records.md) so the same classifier applies to a
live crawl and to a snapshot.

Pagination is by opaque cursor (``metadata.nextCursor``); :meth:`pages` hands
the cursor out with each page so a crawl can store it and resume exactly there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from likenessguard.artifacts.base import ByteSource
from likenessguard.errors import HubError, HubNotFound
from likenessguard.hashing.base import FileHashes
from likenessguard.hubs.base import Download, FileRef, RepoQuery, RepoRef
from likenessguard.hubs.http import PoliteClient, Politeness
from likenessguard.hubs.remote import (
    DEFAULT_MAX_DOWNLOAD,
    RemoteSource,
    download_file,
    fetch_header,
)

HUB = "civitai"
DEFAULT_ENDPOINT = "https://civitai.com"
TOKEN_HINT = "set CIVITAI_TOKEN or pass --token"  # noqa: S105 (a message, not a secret)
PAGE_LIMIT = 100  # the API's maximum page size

_TAG = re.compile(r"<[^>]+>")
_HASH_KEYS = {
    "sha256": "SHA256",
    "autov1": "AutoV1",
    "autov2": "AutoV2",
    "autov3": "AutoV3",
    "blake3": "BLAKE3",
    "crc32": "CRC32",
}


def civitai_uri(model_id: int | str, version_id: int | str, name: str) -> str:
    """The catalog identity of a Civitai file."""
    return f"civitai://model/{model_id}/version/{version_id}/{name}"


def strip_html(text: str | None, limit: int | None = None) -> str:
    """Civitai descriptions are HTML; classifiers want the words."""
    plain = " ".join(unescape(_TAG.sub(" ", text or "")).split())
    return plain[:limit] if limit else plain


def file_hashes(hashes: Mapping[str, str]) -> FileHashes | None:
    """Civitai's hash map as :class:`FileHashes` (lowercase); None if a required one is missing."""
    got = {ours: (hashes.get(theirs) or "").lower() or None for ours, theirs in _HASH_KEYS.items()}
    if not (got["sha256"] and got["autov2"] and got["blake3"] and got["crc32"]):
        return None
    return FileHashes(
        sha256=got["sha256"],
        autov1=got["autov1"],
        autov2=got["autov2"],
        autov3=got["autov3"],
        blake3=got["blake3"],
        crc32=got["crc32"],
    )


def to_listing(record: Mapping[str, Any]) -> dict[str, Any]:
    """A ``/api/v1/models`` item in the shape of the shared listing records.

    Keys: ``id``, ``type``, ``name``, ``tags``, ``description`` (HTML stripped,
    at most 3,000 characters), ``versions[]`` with ``id``, ``name``,
    ``baseModel``, ``trainedWords``, ``description``, ``files[]`` (``name``,
    ``sizeKB``, ``hashes`` uppercase as Civitai reports them) and ``images[]``
    (``prompt``, at most 600 characters), plus Civitai's own ``poi`` and
    ``nsfw`` flags and ``creator``.
    """
    versions = []
    for v in record.get("modelVersions") or ():
        versions.append(
            {
                "id": v.get("id"),
                "name": v.get("name") or "",
                "baseModel": v.get("baseModel") or "",
                "trainedWords": list(v.get("trainedWords") or ()),
                "description": strip_html(v.get("description"), 3000),
                "files": [
                    {
                        "name": f.get("name") or "",
                        "sizeKB": f.get("sizeKB") or 0,
                        "hashes": {k: str(h).upper() for k, h in (f.get("hashes") or {}).items()},
                    }
                    for f in v.get("files") or ()
                ],
                "images": [
                    {"prompt": str(((img.get("meta") or {}).get("prompt")) or "")[:600]}
                    for img in v.get("images") or ()
                ],
            }
        )
    creator = record.get("creator") or {}
    return {
        "id": record.get("id"),
        "type": record.get("type") or "",
        "name": record.get("name") or "",
        "poi": bool(record.get("poi")),
        "nsfw": bool(record.get("nsfw")),
        "tags": [t if isinstance(t, str) else t.get("name", "") for t in record.get("tags") or ()],
        "description": strip_html(record.get("description"), 3000),
        "creator": creator.get("username") if isinstance(creator, Mapping) else None,
        "versions": versions,
    }


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class CivitaiConnector:
    """Lists and reads Civitai models through the public REST API.

    Args:
        endpoint: the site URL (default https://civitai.com).
        token: an API key; default ``CIVITAI_TOKEN`` from the environment.
        policy: rate limit, concurrency, retries and timeouts.
        max_download: cap in bytes for whole-file downloads.
        page_size: models per listing page (the API allows at most 100).
    """

    hub = HUB

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | None = None,
        *,
        policy: Politeness | None = None,
        max_download: int = DEFAULT_MAX_DOWNLOAD,
        page_size: int = PAGE_LIMIT,
    ) -> None:
        self.endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self.page_size = max(1, min(page_size, PAGE_LIMIT))
        self.token = token or os.environ.get("CIVITAI_TOKEN") or None
        self.max_download = max_download
        headers = {"User-Agent": "likenessguard (trust-and-safety scanner)"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self.http = PoliteClient("Civitai", token_hint=TOKEN_HINT, headers=headers, policy=policy)

    def close(self) -> None:
        self.http.close()

    def _params(self, query: RepoQuery, cursor: str | None) -> dict[str, str | int]:
        params: dict[str, str | int] = {"limit": min(query.limit or self.page_size, self.page_size)}
        params["sort"] = "Newest"
        if query.search:
            params["query"] = query.search
        if query.author:
            params["username"] = query.author
        if query.tags:
            params["tag"] = query.tags[0]
        if query.types:
            params["types"] = ",".join(query.types)
        if query.nsfw is not None:
            params["nsfw"] = "true" if query.nsfw else "false"
        if cursor:
            params["cursor"] = cursor
        return params

    def _ref(self, record: Mapping[str, Any]) -> RepoRef:
        versions = record.get("modelVersions") or []
        newest = versions[0] if versions else {}
        creator = record.get("creator") or {}
        return RepoRef(
            hub=HUB,
            repo=str(record["id"]),
            revision=str(newest.get("id")) if newest.get("id") is not None else None,
            last_modified=_parse_time(newest.get("updatedAt") or newest.get("createdAt")),
            author=creator.get("username") if isinstance(creator, Mapping) else None,
            tags=tuple(
                t if isinstance(t, str) else t.get("name", "") for t in record.get("tags") or ()
            ),
            url=f"{self.endpoint}/models/{record['id']}",
            raw=dict(record),
        )

    def pages(
        self, query: RepoQuery, cursor: str | None = None
    ) -> Iterator[tuple[list[RepoRef], str | None]]:
        """Yield (models of one page, cursor of the next page or None), starting at ``cursor``."""
        seen = 0
        while True:
            response = self.http.get(
                f"{self.endpoint}/api/v1/models", params=self._params(query, cursor)
            )
            try:
                body = response.json()
                items = body["items"]
                next_cursor = (body.get("metadata") or {}).get("nextCursor")
            except (ValueError, KeyError, TypeError) as exc:
                raise HubError(
                    f"Civitai answered {self.endpoint}/api/v1/models with something that is "
                    f"not a model page ({exc}); check --endpoint"
                ) from exc
            refs = [self._ref(item) for item in items]
            if query.since:
                fresh = [r for r in refs if not r.last_modified or r.last_modified >= query.since]
                stop = len(fresh) < len(refs)
                refs = fresh
            else:
                stop = False
            if query.limit is not None:
                refs = refs[: max(0, query.limit - seen)]
                stop = stop or seen + len(refs) >= query.limit
            seen += len(refs)
            next_cursor = None if stop or not next_cursor else str(next_cursor)
            yield refs, next_cursor
            if next_cursor is None:
                return
            cursor = next_cursor

    def list_repos(self, query: RepoQuery) -> Iterator[RepoRef]:
        for refs, _ in self.pages(query):
            yield from refs

    def repo(self, repo_id: str, revision: str | None = None) -> RepoRef:
        response = self.http.get(f"{self.endpoint}/api/v1/models/{quote(repo_id)}")
        return self._ref(response.json())

    def list_files(self, repo: RepoRef) -> list[FileRef]:
        """Every file of every version, each with Civitai's hashes; reads no content."""
        out = []
        for v in repo.raw.get("modelVersions") or ():
            for f in v.get("files") or ():
                name = f.get("name") or f"file-{f.get('id')}"
                hashes = {k: str(h) for k, h in (f.get("hashes") or {}).items()}
                out.append(
                    FileRef(
                        repo=repo,
                        path=f"{v.get('id')}/{name}",
                        # sizeKB is bytes / 1024 as a float: round, don't truncate.
                        size=round(float(f.get("sizeKB") or 0) * 1024),
                        url=f.get("downloadUrl")
                        or f"{self.endpoint}/api/download/models/{v.get('id')}",
                        uri=civitai_uri(repo.repo, v.get("id"), name),
                        sha256=(hashes.get("SHA256") or "").lower() or None,
                        hashes=file_hashes(hashes),
                        raw={"version": v.get("id"), "file": f.get("id")},
                    )
                )
        return out

    def by_hash(self, file_hash: str) -> dict[str, Any] | None:
        """The model version holding a file with this hash (any of the six), or None."""
        try:
            response = self.http.get(
                f"{self.endpoint}/api/v1/model-versions/by-hash/{quote(file_hash)}"
            )
        except HubNotFound:
            return None
        data: dict[str, Any] = response.json()
        return data

    def read_header(self, file: FileRef) -> ByteSource:
        return fetch_header(self.http, file.url, file.size, name=file.uri)

    def open(self, file: FileRef) -> ByteSource:
        return RemoteSource(self.http, file.url, file.size, name=file.uri)

    def read_card(self, repo: RepoRef) -> str | None:
        text = strip_html(repo.raw.get("description"))
        return text or None

    @contextmanager
    def download(self, file: FileRef, directory: Path | None = None) -> Iterator[Download]:
        """Stream the file to a temp file (capped, hashed, sha256-checked); deleted on exit."""
        with download_file(
            self.http, file, max_bytes=self.max_download, directory=directory
        ) as download:
            yield download
