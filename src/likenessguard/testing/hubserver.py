"""A local model hub that speaks the Hugging Face Hub and Civitai APIs to real clients.

Tests and benchmarks point the real ``huggingface_hub`` client and our
connectors at this server instead of the internet. It serves synthetic repos
(random tensors, drawn in code), counts every request and every byte per route
so request and byte budgets can be asserted, and injects the faults a crawler
meets in the wild: 429 with ``Retry-After`` or ``RateLimit`` headers, 5xx,
truncated bodies, and a repo that changes between listing and reading.

The subset spoken is the one the clients use (checked against
``huggingface_hub`` 2.x and Civitai's public REST API):

* ``GET /api/models`` with ``author``, ``search``, ``filter``, ``sort``,
  ``limit``, ``expand`` and GitHub-style ``Link: <...>; rel="next"`` pagination;
* ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}``;
* ``GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=&expand=`` with
  ``lfs: {oid, size, pointerSize}`` on LFS files (paginated like the Hub);
* ``HEAD``/``GET /{repo}/resolve/{rev}/{file}`` with ``Range``, ``X-Repo-Commit``,
  ``ETag``, ``X-Linked-Etag``, ``X-Linked-Size``, ``Content-Range``;
* Civitai ``GET /api/v1/models`` (cursor pagination, ``limit``, ``types``,
  ``query``, ``username``, ``tag``, ``nsfw``), ``GET /api/v1/models/{id}``,
  ``GET /api/v1/model-versions/by-hash/{hash}``, ``GET /api/download/models/{versionId}``.

Example::

    with HubServer() as hub:
        hub.add_repo("acme/lora", {"lora.safetensors": data, "README.md": b"# card"})
        api = HfApi(endpoint=hub.url)
        print(api.model_info("acme/lora").sha)
        print(hub.stats.requests["model"])
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from likenessguard.hubs.base import is_model_file
from likenessguard.testing.factory import lora_tensors, safetensors_bytes

# Files at or above this size, or with a model extension, are stored in LFS,
# which is what gives them a sha256 in the tree listing (as on the real Hub).
LFS_THRESHOLD = 10 * 1024
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

ROUTES: tuple[str, ...] = (
    "models",
    "model",
    "tree",
    "resolve",
    "civitai_models",
    "civitai_model",
    "civitai_by_hash",
    "civitai_download",
    "other",
)


def git_blob_oid(data: bytes) -> str:
    """The git object id of a blob, as the Hub reports in ``oid`` for non-LFS files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n"
    ).encode()


@dataclass(frozen=True)
class HubFile:
    """One file in one revision of a synthetic repo."""

    path: str
    data: bytes
    lfs: bool
    sha256: str
    oid: str

    @classmethod
    def of(cls, path: str, data: bytes) -> HubFile:
        lfs = is_model_file(path) or len(data) >= LFS_THRESHOLD
        sha = hashlib.sha256(data).hexdigest()
        oid = git_blob_oid(lfs_pointer(sha, len(data)) if lfs else data)
        return cls(path, data, lfs, sha, oid)


@dataclass
class Revision:
    sha: str
    files: dict[str, HubFile]
    date: datetime
    title: str


@dataclass
class HubRepo:
    """A synthetic model repo with its full history (old revisions stay readable)."""

    id: str
    revisions: list[Revision]
    tags: list[str] = field(default_factory=list)
    private: bool = False
    gated: bool = False
    created: datetime = EPOCH
    downloads: int = 0

    @property
    def author(self) -> str:
        return self.id.split("/", 1)[0] if "/" in self.id else ""

    @property
    def head(self) -> Revision:
        return self.revisions[-1]

    def revision(self, rev: str) -> Revision | None:
        if rev in ("main", "HEAD"):
            return self.head
        for r in self.revisions:
            if r.sha == rev:
                return r
        return None


@dataclass
class Fault:
    """An injected failure: the next ``times`` requests to ``route`` get it."""

    route: str
    times: int
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False


@dataclass
class HubStats:
    """Counters per route (see :data:`ROUTES`): requests, bytes of body sent, faults served.

    ``content_bytes`` counts body bytes of model files served by ``resolve`` and
    downloads (the bytes a header-only scan must keep near zero);
    ``file_requests`` counts content requests per ``repo/path``.
    """

    requests: Counter[str] = field(default_factory=Counter)
    bytes: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    content_bytes: int = 0
    file_requests: Counter[str] = field(default_factory=Counter)
    file_bytes: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.bytes.clear()
            self.faults.clear()
            self.file_requests.clear()
            self.file_bytes.clear()
            self.content_bytes = 0

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


def synthetic_lora(
    seed: int,
    *,
    family: str = "sd1",
    rank: int = 4,
    modules: int = 4,
    metadata: Mapping[str, str] | None = None,
) -> bytes:
    """A kohya LoRA from the fixture factory (real key names and shapes, random weights)."""
    tensors = _lora_tensors(family, rank, modules, seed)
    meta = {"ss_network_module": "networks.lora", "ss_network_dim": str(rank)}
    meta.update(metadata or {})
    return safetensors_bytes(tensors, meta)


@functools.lru_cache(maxsize=64)
def _lora_tensors(family: str, rank: int, modules: int, seed: int) -> Mapping[str, Any]:
    # Drawing weights dominates the cost of a synthetic hub; repos reuse a few
    # weight sets and differ by metadata, which still gives every file its own sha256.
    return lora_tensors(family, "kohya", rank=rank, seed=seed, modules=modules)


def _sha(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode(), usedforsecurity=False).hexdigest()


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class HubServer:
    """A threaded HTTP server on 127.0.0.1 (ephemeral port) serving synthetic repos.

    Args:
        page_size: items per page of ``/api/models`` (the client's ``limit`` may lower it).
        tree_page_size: entries per page of a tree listing.
        token: when set, every request must carry ``Authorization: Bearer <token>``.
        latency: seconds to sleep per request, to model a remote hub in benchmarks.
    """

    def __init__(
        self,
        *,
        page_size: int = 50,
        tree_page_size: int = 1000,
        token: str | None = None,
        latency: float = 0.0,
    ) -> None:
        self.page_size = page_size
        self.tree_page_size = tree_page_size
        self.token = token
        self.latency = latency
        self.repos: dict[str, HubRepo] = {}
        self.civitai: dict[int, dict[str, Any]] = {}
        self.civitai_files: dict[int, bytes] = {}
        self.stats = HubStats()
        self._faults: list[Fault] = []
        self._change_after_listing: dict[str, tuple[dict[str, bytes], bool]] = {}
        self._lock = threading.RLock()
        self._clock = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --

    def start(self) -> HubServer:
        handler = type("Handler", (_Handler,), {"hub": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("HubServer is not started: call start() or use it as a context")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- content --

    def _tick(self) -> datetime:
        self._clock += 1
        return EPOCH + timedelta(minutes=self._clock)

    def add_repo(
        self,
        repo_id: str,
        files: Mapping[str, bytes],
        *,
        tags: Iterable[str] = (),
        private: bool = False,
        gated: bool = False,
    ) -> str:
        """Create a repo with one commit; returns its commit sha."""
        with self._lock:
            when = self._tick()
            sha = _sha(repo_id, "0", *sorted(files))
            rev = Revision(sha, {p: HubFile.of(p, d) for p, d in files.items()}, when, "initial")
            self.repos[repo_id] = HubRepo(repo_id, [rev], list(tags), private, gated, created=when)
            return sha

    def commit(
        self,
        repo_id: str,
        files: Mapping[str, bytes],
        *,
        delete: Iterable[str] = (),
        drop_history: bool = False,
    ) -> str:
        """Add a commit changing ``files`` (and removing ``delete``); returns the new sha.

        ``drop_history`` models a force-push: older revisions stop resolving.
        """
        with self._lock:
            repo = self.repos[repo_id]
            current = dict(repo.head.files)
            for p in delete:
                current.pop(p, None)
            for p, d in files.items():
                current[p] = HubFile.of(p, d)
            sha = _sha(repo_id, str(len(repo.revisions)), *(f.oid for f in current.values()))
            rev = Revision(sha, current, self._tick(), f"update {len(repo.revisions)}")
            repo.revisions = [rev] if drop_history else [*repo.revisions, rev]
            return sha

    def change_after_listing(
        self, repo_id: str, files: Mapping[str, bytes], *, drop_history: bool = False
    ) -> None:
        """Commit ``files`` to ``repo_id`` right after a listing page that includes it is served."""
        with self._lock:
            self._change_after_listing[repo_id] = (dict(files), drop_history)

    def inject(
        self,
        route: str,
        *,
        status: int = 0,
        times: int = 1,
        retry_after: float | None = None,
        ratelimit_reset: int | None = None,
        truncate: bool = False,
    ) -> None:
        """Make the next ``times`` requests to ``route`` fail.

        ``status`` 429/5xx answers with that status (``retry_after`` adds a
        ``Retry-After`` header, ``ratelimit_reset`` Hugging Face's ``RateLimit``
        header with r=0); ``truncate`` sends the right headers and half the body,
        then closes the connection.
        """
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}: use one of {', '.join(ROUTES)}")
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = str(int(retry_after)) if retry_after >= 1 else "0"
        if ratelimit_reset is not None:
            headers["RateLimit"] = f'"api";r=0;t={ratelimit_reset}'
            headers["RateLimit-Policy"] = '"fixed window";"api";q=1000;w=300'
        with self._lock:
            self._faults.append(Fault(route, times, status, headers, truncate))

    def take_fault(self, route: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.route == route and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def add_civitai_model(
        self, record: Mapping[str, Any], files: Mapping[int, bytes] | None = None
    ) -> None:
        """Add a Civitai model record shaped like ``/api/v1/models`` items.

        ``files`` maps a version id to the bytes of its primary file (for downloads).
        """
        with self._lock:
            self.civitai[int(record["id"])] = dict(record)
            for vid, data in (files or {}).items():
                self.civitai_files[int(vid)] = data

    def populate(
        self,
        n_repos: int,
        *,
        seed: int = 0,
        authors: int = 5,
        lora_rank: int = 4,
        modules: int = 4,
        weight_sets: int = 8,
    ) -> None:
        """Fill the hub with ``n_repos`` synthetic LoRA repos (card, config, weights).

        Weights come from ``weight_sets`` random draws of the fixture factory;
        each file's metadata names its repo, so every file has its own sha256.
        """
        for i in range(n_repos):
            author = f"author{i % authors}"
            rid = f"{author}/lora-{i:05d}"
            card = (
                f"---\nlicense: openrail\ntags:\n- lora\n- style\n---\n"
                f"# Style LoRA {i}\n\nA synthetic painting-style LoRA number {i}.\n"
            ).encode()
            files = {
                "README.md": card,
                "config.json": json.dumps({"rank": lora_rank, "index": i}).encode(),
                f"style_{i:05d}.safetensors": synthetic_lora(
                    seed * 1_000_003 + i % max(1, weight_sets),
                    rank=lora_rank,
                    modules=modules,
                    metadata={"ss_output_name": f"style_{i:05d}"},
                ),
            }
            self.add_repo(rid, files, tags=["lora", "safetensors", "style"])


def civitai_record(
    model_id: int,
    name: str,
    *,
    model_type: str = "LORA",
    files: Mapping[str, bytes] | None = None,
    tags: Iterable[str] = (),
    description: str = "",
    nsfw: bool = False,
    poi: bool = False,
    creator: str = "synthetic",
    base_model: str = "SD 1.5",
    trained_words: Iterable[str] = (),
    prompts: Iterable[str] = (),
    endpoint: str = "https://civitai.com",
) -> tuple[dict[str, Any], dict[int, bytes]]:
    """A Civitai ``/api/v1/models`` item with one version holding ``files``, hashed like Civitai.

    Returns the record and ``{version_id: primary file bytes}`` for
    :meth:`HubServer.add_civitai_model`.
    """
    from likenessguard.hashing.file_hashes import hash_bytes

    version_id = model_id * 10 + 1
    out_files = []
    downloads: dict[int, bytes] = {}
    for k, (fname, data) in enumerate((files or {}).items()):
        h = hash_bytes(data)
        hashes = {
            "AutoV1": h.autov1,
            "AutoV2": h.autov2,
            "SHA256": h.sha256,
            "CRC32": h.crc32,
            "BLAKE3": h.blake3,
            "AutoV3": h.autov3,
        }
        out_files.append(
            {
                "id": version_id * 100 + k,
                "name": fname,
                "sizeKB": len(data) / 1024,
                "type": "Model",
                "primary": k == 0,
                "metadata": {"format": "SafeTensor", "size": None, "fp": None},
                "hashes": {key: v.upper() for key, v in hashes.items() if v},
                "downloadUrl": f"{endpoint}/api/download/models/{version_id}",
            }
        )
        if k == 0:
            downloads[version_id] = data
    record = {
        "id": model_id,
        "name": name,
        "description": f"<p>{description}</p>" if description else "",
        "type": model_type,
        "poi": poi,
        "nsfw": nsfw,
        "allowNoCredit": True,
        "tags": list(tags),
        "creator": {"username": creator, "image": None},
        "stats": {"downloadCount": 0, "favoriteCount": 0, "commentCount": 0, "rating": 0},
        "modelVersions": [
            {
                "id": version_id,
                "modelId": model_id,
                "name": "v1.0",
                "createdAt": _iso(EPOCH + timedelta(hours=model_id)),
                "updatedAt": _iso(EPOCH + timedelta(hours=model_id)),
                "baseModel": base_model,
                "trainedWords": list(trained_words),
                "description": "",
                "files": out_files,
                "images": [
                    {
                        "url": f"{endpoint}/images/{version_id}-{j}.jpeg",
                        "nsfw": "None",
                        "width": 512,
                        "height": 512,
                        "hash": "U00000fQfQfQfQfQfQfQfQfQfQfQ",
                        "meta": {"prompt": p} if p else None,
                    }
                    for j, p in enumerate(prompts)
                ],
                "downloadUrl": f"{endpoint}/api/download/models/{version_id}",
            }
        ],
    }
    return record, downloads


class _BadRange(ValueError):
    """The Range header cannot be satisfied (answered with 416)."""


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive), or None for no range; raises _BadRange when unsatisfiable."""
    if not header:
        return None
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        raise _BadRange(header)
    if not m.group(1):
        n = int(m.group(2))
        if n <= 0 or size <= 0:
            raise _BadRange(header)
        return max(0, size - n), size - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else size - 1
    if start >= size or end < start:
        raise _BadRange(header)
    return start, min(end, size - 1)


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"
    server_version = "likenessguard-hubserver/1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        return

    # -- plumbing --

    def _route(self) -> str:
        path = urlsplit(self.path).path
        if path == "/api/models":
            return "models"
        if path.startswith("/api/models/"):
            return "tree" if "/tree/" in path else "model"
        if path.startswith("/api/v1/models/"):
            return "civitai_model"
        if path.startswith("/api/v1/models"):
            return "civitai_models"
        if path.startswith("/api/v1/model-versions/by-hash/"):
            return "civitai_by_hash"
        if path.startswith("/api/download/models/"):
            return "civitai_download"
        if "/resolve/" in path:
            return "resolve"
        return "other"

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        route: str,
        content_key: str | None = None,
        head: bool = False,
    ) -> None:
        fault_truncate = getattr(self, "_truncate", False)
        self.send_response(status)
        hdrs = {"Content-Length": str(len(body))}
        hdrs.update(headers or {})
        for k, v in hdrs.items():
            self.send_header(k, v)
        if fault_truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return
        sent = body[: len(body) // 2] if fault_truncate else body
        # Count before writing: a client can finish reading (and a test read the
        # counters) before this thread runs again after the write returns.
        self._count(route, content_key, len(sent))
        try:
            self.wfile.write(sent)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self._count(route, content_key, -len(sent))
            return
        if fault_truncate:
            self.close_connection = True

    def _count(self, route: str, content_key: str | None, n: int) -> None:
        stats = self.hub.stats
        with stats.lock:
            stats.bytes[route] += n
            if content_key is not None:
                stats.content_bytes += n
                stats.file_bytes[content_key] += n

    def _json(
        self, status: int, data: Any, route: str, headers: Mapping[str, str] | None = None
    ) -> None:
        body = json.dumps(data).encode()
        hdrs = {"Content-Type": "application/json; charset=utf-8"}
        hdrs.update(headers or {})
        self._send(status, body, hdrs, route=route)

    def _error(self, status: int, code: str | None, message: str, route: str) -> None:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._json(status, {"error": message}, route, headers)

    def _query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query, keep_blank_values=True)

    def _next_link(self, path: str, query: dict[str, list[str]], cursor: str) -> str:
        q = [(k, v) for k, vs in query.items() if k != "cursor" for v in vs]
        q.append(("cursor", cursor))
        return f"{self.hub.url}{path}?{urlencode(q)}"

    def _handle(self, head: bool = False) -> None:
        hub = self.hub
        route = self._route()
        self._truncate = False
        with hub.stats.lock:
            hub.stats.requests[route] += 1
        if hub.latency:
            time.sleep(hub.latency)
        fault = hub.take_fault(route)
        if fault is not None:
            with hub.stats.lock:
                hub.stats.faults[route] += 1
            if fault.truncate:
                self._truncate = True
            else:
                self._json(
                    fault.status, {"error": f"injected {fault.status}"}, route, fault.headers
                )
                return
        if hub.token is not None:
            auth = self.headers.get("Authorization", "")
            if auth != f"Bearer {hub.token}":
                self._error(401, None, "Invalid credentials in Authorization header", route)
                return
        try:
            handler = getattr(self, f"_r_{route}")
            handler(route, head)
        except Exception as exc:  # a bug in the fake must show up, not hang the client
            self._error(500, None, f"hubserver bug: {exc!r}", route)

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle(head=True)

    # -- Hugging Face --

    def _find_repo(self, parts: list[str]) -> tuple[HubRepo | None, list[str]]:
        with self.hub._lock:
            for n in (2, 1):
                rid = "/".join(parts[:n])
                if rid in self.hub.repos:
                    return self.hub.repos[rid], parts[n:]
        return None, parts

    def _visible(self, repo: HubRepo) -> bool:
        return not repo.private or self.hub.token is not None

    def _model_json(self, repo: HubRepo, rev: Revision, fields: list[str] | None) -> dict[str, Any]:
        full: dict[str, Any] = {
            "_id": _sha(repo.id)[:24],
            "id": repo.id,
            "modelId": repo.id,
            "author": repo.author,
            "sha": rev.sha,
            "lastModified": _iso(rev.date),
            "createdAt": _iso(repo.created),
            "private": repo.private,
            "gated": "auto" if repo.gated else False,
            "disabled": False,
            "downloads": repo.downloads,
            "likes": 0,
            "tags": list(repo.tags),
            "library_name": "diffusers" if "lora" in repo.tags else None,
            "siblings": [{"rfilename": p} for p in sorted(rev.files)],
        }
        if fields is None:
            return full
        keep = {"_id", "id", *fields}
        return {k: v for k, v in full.items() if k in keep}

    def _r_models(self, route: str, head: bool) -> None:
        hub = self.hub
        q = self._query()
        author = q.get("author", [None])[0]
        search = (q.get("search", [""])[0] or "").lower()
        filters = q.get("filter", [])
        sort = q.get("sort", [None])[0]
        with hub._lock:
            repos = [r for r in hub.repos.values() if self._visible(r)]
        if author:
            repos = [r for r in repos if r.author == author]
        if search:
            repos = [r for r in repos if search in r.id.lower()]
        for f in filters:
            repos = [r for r in repos if f in r.tags]
        if sort in ("lastModified", "last_modified"):
            repos.sort(key=lambda r: (r.head.date, r.id), reverse=True)
        elif sort in ("createdAt", "created_at"):
            repos.sort(key=lambda r: (r.created, r.id), reverse=True)
        elif sort == "downloads":
            repos.sort(key=lambda r: (r.downloads, r.id), reverse=True)
        limit = q.get("limit", [None])[0]
        page = min(int(limit), hub.page_size) if limit else hub.page_size
        cursor = q.get("cursor", [None])[0]
        start = int(base64.urlsafe_b64decode(cursor).decode()) if cursor else 0
        chunk = repos[start : start + page]
        expand = q.get("expand")
        full = q.get("full", ["false"])[0].lower() == "true"
        fields = (
            None
            if full
            else (
                expand
                or [
                    "author",
                    "private",
                    "gated",
                    "downloads",
                    "likes",
                    "tags",
                    "library_name",
                    "createdAt",
                ]
            )
        )
        data = []
        for r in chunk:
            item = self._model_json(r, r.head, fields)
            if not full:
                item.pop("siblings", None)
            data.append(item)
        headers = {}
        if start + page < len(repos):
            nxt = base64.urlsafe_b64encode(str(start + page).encode()).decode()
            headers["Link"] = f'<{self._next_link("/api/models", q, nxt)}>; rel="next"'
        # The page shows the old commits; the repos move before the client can
        # read them (committing before answering keeps the test deterministic).
        with hub._lock:
            for r in chunk:
                change = hub._change_after_listing.pop(r.id, None)
                if change is not None:
                    hub.commit(r.id, change[0], drop_history=change[1])
        self._json(200, data, route, headers)

    def _r_model(self, route: str, head: bool) -> None:
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/")[3:]]
        repo, rest = self._find_repo(parts)
        if repo is None or not self._visible(repo):
            self._error(404, "RepoNotFound", "Repository not found", route)
            return
        rev: Revision | None = repo.head
        if rest[:1] == ["revision"] and len(rest) >= 2:
            rev = repo.revision("/".join(rest[1:]))
        elif rest:
            self._error(404, None, "Not found", route)
            return
        if rev is None:
            self._error(404, "RevisionNotFound", "Invalid rev id", route)
            return
        self._json(200, self._model_json(repo, rev, None), route)

    def _r_tree(self, route: str, head: bool) -> None:
        path = urlsplit(self.path).path
        before, _, after = path[len("/api/models/") :].partition("/tree/")
        repo, _ = self._find_repo([unquote(p) for p in before.split("/")])
        if repo is None or not self._visible(repo):
            self._error(404, "RepoNotFound", "Repository not found", route)
            return
        rev_text, _, sub = after.partition("/")
        rev = repo.revision(unquote(rev_text))
        if rev is None:
            self._error(404, "RevisionNotFound", "Invalid rev id", route)
            return
        q = self._query()
        recursive = q.get("recursive", ["false"])[0].lower() == "true"
        expand = q.get("expand", ["false"])[0].lower() == "true"
        prefix = unquote(sub).strip("/")
        entries: dict[str, dict[str, Any]] = {}
        for fpath, f in sorted(rev.files.items()):
            if prefix and not fpath.startswith(prefix + "/"):
                continue
            rel = fpath[len(prefix) + 1 :] if prefix else fpath
            segments = rel.split("/")
            depth_ok = recursive or len(segments) == 1
            for d in range(1, len(segments)):
                if not recursive and d > 1:
                    break
                folder = "/".join(([prefix] if prefix else []) + segments[:d])
                entries.setdefault(
                    folder, {"type": "directory", "oid": _sha(rev.sha, folder), "path": folder}
                )
            if not depth_ok:
                continue
            entry: dict[str, Any] = {
                "type": "file",
                "oid": f.oid,
                "size": len(f.data),
                "path": fpath,
            }
            if f.lfs:
                entry["lfs"] = {
                    "oid": f.sha256,
                    "size": len(f.data),
                    "pointerSize": len(lfs_pointer(f.sha256, len(f.data))),
                }
            entries[fpath] = entry
        items = [entries[k] for k in sorted(entries)]
        if expand:
            for item in items:
                item["lastCommit"] = {"id": rev.sha, "title": rev.title, "date": _iso(rev.date)}
                if item["type"] == "file":
                    item["securityFileStatus"] = {
                        "status": "safe",
                        "avScan": {"virusFound": False, "virusNames": None},
                        "pickleImportScan": None,
                    }
        cursor = q.get("cursor", [None])[0]
        start = int(base64.urlsafe_b64decode(cursor).decode()) if cursor else 0
        page = self.hub.tree_page_size
        headers = {}
        if start + page < len(items):
            nxt = base64.urlsafe_b64encode(str(start + page).encode()).decode()
            headers["Link"] = f'<{self._next_link(path, q, nxt)}>; rel="next"'
        self._json(200, items[start : start + page], route, headers)

    def _r_resolve(self, route: str, head: bool) -> None:
        path = urlsplit(self.path).path
        before, _, after = path.lstrip("/").partition("/resolve/")
        repo, _ = self._find_repo([unquote(p) for p in before.split("/")])
        if repo is None or not self._visible(repo):
            self._error(404, "RepoNotFound", "Repository not found", route)
            return
        rev_text, _, fpath = after.partition("/")
        rev = repo.revision(unquote(rev_text))
        if rev is None:
            self._error(404, "RevisionNotFound", "Invalid rev id", route)
            return
        f = rev.files.get(unquote(fpath))
        if f is None:
            self._error(404, "EntryNotFound", "Entry not found", route)
            return
        self._serve_bytes(
            route,
            head,
            f.data,
            content_key=f"{repo.id}/{f.path}" if is_model_file(f.path) else None,
            headers={
                "X-Repo-Commit": rev.sha,
                "ETag": f'"{f.sha256 if f.lfs else f.oid}"',
                **(
                    {"X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": str(len(f.data))}
                    if f.lfs
                    else {}
                ),
            },
        )

    def _serve_bytes(
        self,
        route: str,
        head: bool,
        data: bytes,
        *,
        content_key: str | None,
        headers: Mapping[str, str],
    ) -> None:
        hdrs = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream", **headers}
        try:
            rng = _parse_range(self.headers.get("Range"), len(data))
        except _BadRange:
            rng = None
            hdrs["Content-Range"] = f"bytes */{len(data)}"
            self._send(416, b"", hdrs, route=route, head=head)
            return
        if content_key is not None and not head:
            with self.hub.stats.lock:
                self.hub.stats.file_requests[content_key] += 1
        if rng is None:
            self._send(200, data, hdrs, route=route, content_key=content_key, head=head)
            return
        start, end = rng
        hdrs["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        self._send(
            206, data[start : end + 1], hdrs, route=route, content_key=content_key, head=head
        )

    # -- Civitai --

    def _r_civitai_models(self, route: str, head: bool) -> None:
        hub = self.hub
        q = self._query()
        with hub._lock:
            models = sorted(hub.civitai.values(), key=lambda m: -int(m["id"]))
        types = q.get("types", [])
        if types:
            models = [m for m in models if m["type"] in types]
        query = (q.get("query", [""])[0] or "").lower()
        if query:
            models = [m for m in models if query in m["name"].lower()]
        username = q.get("username", [None])[0]
        if username:
            models = [m for m in models if m["creator"]["username"] == username]
        tag = q.get("tag", [None])[0]
        if tag:
            models = [m for m in models if tag in m["tags"]]
        nsfw = q.get("nsfw", [None])[0]
        if nsfw is not None and nsfw.lower() == "false":
            models = [m for m in models if not m["nsfw"]]
        limit = min(int(q.get("limit", ["100"])[0] or 100), 100)
        cursor = q.get("cursor", [None])[0]
        if cursor:
            # Civitai cursors are opaque; ours is "<first id of the page>|<ts>".
            first = int(cursor.split("|", 1)[0])
            models = [m for m in models if int(m["id"]) <= first]
        page, rest = models[:limit], models[limit:]
        metadata: dict[str, Any] = {}
        if rest:
            nxt = f"{rest[0]['id']}|{int(EPOCH.timestamp())}"
            metadata["nextCursor"] = nxt
            metadata["nextPage"] = self._next_link("/api/v1/models", q, nxt)
        self._json(200, {"items": page, "metadata": metadata}, route)

    def _r_civitai_model(self, route: str, head: bool) -> None:
        tail = urlsplit(self.path).path[len("/api/v1/models/") :]
        model = self.hub.civitai.get(int(tail)) if tail.isdigit() else None
        if model is None:
            self._json(404, {"error": f"No model with id {tail}"}, route)
            return
        self._json(200, model, route)

    def _r_civitai_by_hash(self, route: str, head: bool) -> None:
        wanted = urlsplit(self.path).path.rsplit("/", 1)[-1].upper()
        with self.hub._lock:
            models = list(self.hub.civitai.values())
        for m in models:
            for v in m["modelVersions"]:
                for f in v["files"]:
                    if wanted in {h.upper() for h in f["hashes"].values()}:
                        out = {k: val for k, val in v.items()}
                        out["model"] = {
                            "name": m["name"],
                            "type": m["type"],
                            "nsfw": m["nsfw"],
                            "poi": m["poi"],
                        }
                        self._json(200, out, route)
                        return
        self._json(404, {"error": "Model not found"}, route)

    def _r_civitai_download(self, route: str, head: bool) -> None:
        tail = urlsplit(self.path).path.rsplit("/", 1)[-1]
        data = self.hub.civitai_files.get(int(tail)) if tail.isdigit() else None
        if data is None:
            self._json(404, {"error": "File not found"}, route)
            return
        self._serve_bytes(route, head, data, content_key=f"civitai/{tail}", headers={})

    def _r_other(self, route: str, head: bool) -> None:
        self._error(404, None, f"hubserver does not serve {self.path}", route)
