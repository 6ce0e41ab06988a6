"""Crawl orchestration: a hub's repos in, catalogued records out, incrementally and resumably.

A crawl lists repos (newest first), asks the catalog which ones moved since
their last crawl, lists the moved repos' files with the hashes the hub stores,
and hands one :class:`HubTarget` per model file to the :class:`Scanner`, which
reads headers (two ranged requests at most), runs the analyzers (verdicts,
bank matching by the hub's sha256 with zero content bytes) and writes records.

Why it is safe to kill:

* a repo is marked with its commit only after the scanner has committed its
  records, so a killed crawl re-reads exactly the repos it had not finished;
* records are keyed by ``hf://org/name@<commit>/path`` and upserted, so a
  re-read never doubles a record; records of a repo's previous commit are
  replaced (or, for files the new commit dropped, marked removed from the hub
  and kept) in the same step that marks the new one;
* Civitai's page cursor is saved after each page, so a restart resumes there.

Full downloads happen only with ``--fingerprint``: ``suspects`` re-reads, with
a capped download, the files the header pass flagged (a verdict of medium or
more, a bank match or a reader finding); ``all`` downloads every model file.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Literal

from likenessguard.artifacts.base import Artifact, ByteSource, Format
from likenessguard.errors import HubError, HubNotFound, UsageError
from likenessguard.hashing.base import FileHashes
from likenessguard.hubs.base import Connector, FileRef, RepoQuery, RepoRef, is_model_file
from likenessguard.hubs.http import Politeness
from likenessguard.hubs.remote import BlockSource, RemoteSource
from likenessguard.pipeline.base import AnalysisResult, Analyzer, ScanContext, ScanTarget
from likenessguard.pipeline.scanner import Scanner
from likenessguard.store.catalog import Catalog, record_severity
from likenessguard.store.hubs import HubEvent, HubStore, RepoState
from likenessguard.store.records import Location
from likenessguard.verdicts.base import Severity

Fingerprint = Literal["suspects", "all", "none"]
Mode = Literal["header", "listing", "download"]

HUBS: tuple[str, ...] = ("huggingface", "civitai", "local")


# -- connectors that travel to workers ------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    """A picklable recipe for a connector, so Dask and process workers can rebuild it.

    The token travels with the spec to workers you run; on a shared cluster
    prefer setting ``HF_TOKEN``/``CIVITAI_TOKEN`` in the workers' environment
    and leaving ``token`` empty.
    """

    hub: str
    endpoint: str | None = None
    token: str | None = None
    root: str | None = None
    policy: Politeness = field(default_factory=Politeness)
    max_download: int = 8 * 1024**3


_connectors: dict[ConnectorSpec, Connector] = {}
_connectors_lock = threading.Lock()


def build_connector(spec: ConnectorSpec) -> Connector:
    """The connector for ``spec``, built once per process (it holds a connection pool)."""
    with _connectors_lock:
        found = _connectors.get(spec)
        if found is not None:
            return found
        if spec.hub == "huggingface":
            from likenessguard.hubs.huggingface import HuggingFaceConnector

            conn: Connector = HuggingFaceConnector(
                spec.endpoint, spec.token, policy=spec.policy, max_download=spec.max_download
            )
        elif spec.hub == "civitai":
            from likenessguard.hubs.civitai import CivitaiConnector

            conn = CivitaiConnector(
                spec.endpoint, spec.token, policy=spec.policy, max_download=spec.max_download
            )
        elif spec.hub == "local":
            from likenessguard.hubs.local import LocalConnector

            if not spec.root:
                raise UsageError("the local hub needs a folder: pass --root PATH")
            conn = LocalConnector(spec.root)
        else:
            raise UsageError(f"unknown hub {spec.hub!r}: use one of {', '.join(HUBS)}")
        _connectors[spec] = conn
        return conn


def close_connectors() -> None:
    """Close every connector this process built (end of a command, or of a test)."""
    with _connectors_lock:
        built = list(_connectors.values())
        _connectors.clear()
    for conn in built:
        conn.close()


# -- targets ------------------------------------------------------------------------


def _guess_format(path: str) -> Format:
    lower = path.lower()
    if lower.endswith(".safetensors"):
        return Format.SAFETENSORS
    if lower.endswith(".gguf"):
        return Format.GGUF
    if lower.endswith((".ckpt", ".pt", ".pth", ".bin")):
        return Format.PICKLE
    return Format.UNKNOWN


def _read_artifacts(source: ByteSource, display: str) -> list[Artifact]:
    """Parse a source with the artifact dispatcher (every format it knows)."""
    try:
        from likenessguard.artifacts.open import read_source
    except ImportError:
        # The dispatcher is optional at this layer: safetensors, the format of
        # nearly every hub LoRA, is read directly.
        from likenessguard.artifacts.safetensors import read_safetensors

        return [read_safetensors(source, display)]
    got: Any = read_source(source, display)
    return list(got) if isinstance(got, list | tuple) else [got]


@dataclass(frozen=True)
class HubTarget(ScanTarget):
    """One model file on a hub, read by header (default), by listing only, or downloaded.

    Attributes:
        spec: how to reach the hub from whichever worker runs this target.
        file: the file, with the hashes the hub stores.
        mode: ``header`` (ranged reads of the header), ``listing`` (no content:
            the hub's hashes and listing are the evidence), ``download`` (the
            whole file, capped, hashed, deleted after the scan).
        card: the repo's model card text (for verdict analyzers:
            ``getattr(context.target, "card", None)``).
        listing: the hub's listing record in the shared shape (Civitai).
    """

    spec: ConnectorSpec | None = None
    file: FileRef | None = None
    mode: Mode = "header"
    card: str | None = None
    listing: Mapping[str, Any] | None = None

    def _connector(self) -> Connector:
        if self.spec is None:
            raise UsageError("a HubTarget needs a connector spec")
        return build_connector(self.spec)

    def _file(self) -> FileRef:
        if self.file is None:
            raise UsageError("a HubTarget needs a file")
        return self.file

    # The fetched header (or downloaded file) lives for this object's lifetime
    # in the worker that reads it, so read(), hash() and the analyzers' open()
    # share one fetch. It is never pickled.
    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_cache")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _fetched(self) -> tuple[ByteSource, FileHashes | None]:
        cached = self.__dict__.get("_cache")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        connector = self._connector()
        file = self._file()
        if self.mode == "download":
            cm = connector.download(file)
            got = cm.__enter__()
            from likenessguard.artifacts.base import FileSource

            source: ByteSource = FileSource(got.path)
            hashes: FileHashes | None = got.hashes

            def cleanup(src: Any = source, ctx: Any = cm) -> None:
                src.close()
                ctx.__exit__(None, None, None)

            # Deleted when the target is dropped (right after its scan), even
            # when no analyzer opened it.
            weakref.finalize(self, cleanup)
        else:
            source = connector.read_header(file)
            hashes = file.hashes
            closer = getattr(source, "close", None)
            if callable(closer):
                # Local files hold a descriptor: release it with the target.
                weakref.finalize(self, closer)
        object.__setattr__(self, "_cache", (source, hashes))
        return source, hashes

    @contextmanager
    def _open(self) -> Iterator[ByteSource]:
        # Analyzers get the bytes only of downloaded files (and local ones):
        # a listing-only crawl promises zero content bytes, and a header crawl
        # at most two requests per file, which tensor reads would break.
        if self.mode == "listing":
            raise OSError(f"{self.display}: content is not read in a listing-only crawl")
        source, _ = self._fetched()
        if self.mode == "header" and getattr(source, "prefix", None) is not None:
            raise OSError(f"{self.display}: only the header was fetched (header-only crawl)")
        yield source

    def open(self) -> AbstractContextManager[ByteSource]:
        return self._open()

    def read(self) -> list[Artifact]:
        file = self._file()
        if self.mode == "listing":
            return [
                Artifact(
                    path=self.display,
                    size=file.size,
                    format=_guess_format(file.path),
                    warnings=(
                        f"{self.display}: content not read (listing only; the hub's hashes "
                        "were used); pass --fingerprint to download and read it",
                    ),
                )
            ]
        source, _ = self._fetched()
        prefix = getattr(source, "prefix", None)
        if prefix is None:  # downloaded or local: the whole file is at hand
            return _read_artifacts(source, self.display)
        if prefix[8:9] == b"{":
            # A safetensors header fetched within the budget: parse it as is.
            # Alpha scalars beyond the prefix would cost a ranged request
            # each; the parser falls back to ss_network_alpha for them.
            from likenessguard.artifacts.safetensors import parse_safetensors_header

            return [parse_safetensors_header(prefix, source.size, self.display)]
        # Other formats (pickle zips, GGUF) keep their index elsewhere in the
        # file: their readers get ranged reads (a few requests per file).
        remote = self._connector().open(self._file())
        if isinstance(remote, RemoteSource):
            return _read_artifacts(BlockSource(remote), self.display)
        return _read_artifacts(remote, self.display)

    def hash(self, data_offset: int | None) -> FileHashes | None:
        """The hub's stored hashes (Civitai), the download's hashes, or None (header only)."""
        if self.mode == "download":
            return self._fetched()[1]
        return self._file().hashes


def hub_target(
    spec: ConnectorSpec,
    file: FileRef,
    *,
    mode: Mode = "header",
    card: str | None = None,
    listing: Mapping[str, Any] | None = None,
) -> HubTarget:
    """The scan target of a hub file, with its location pinned to the repo's commit."""
    repo = file.repo
    known = {"sha256": file.sha256} if file.sha256 else {}
    if file.hashes is not None:
        known = {k: v for k, v in file.hashes.to_json().items() if v}
    hub_name = repo.hub
    return HubTarget(
        uri=file.uri,
        display=file.uri,
        size=file.size,
        location=Location(
            uri=file.uri,
            hub=hub_name,
            repo=repo.repo,
            revision=repo.revision,
            url=file.url,
        ),
        stat=None,
        known_hashes=known,
        spec=spec,
        file=file,
        mode=mode,
        card=card,
        listing=listing,
    )


class HubFactsAnalyzer:
    """Copies what the hub told us into the record (``known_hashes``, ``hub_listing_id``).

    So a record of a file we never downloaded still carries its sha256 (and
    Civitai's six hashes) for search, export and bank re-matching.
    """

    name = "hub"

    def analyze(
        self,
        artifact: Artifact,
        hashes: FileHashes | None,
        location: Location,
        context: ScanContext,
    ) -> AnalysisResult:
        extra: dict[str, Any] = {}
        if context.known_hashes:
            extra["known_hashes"] = dict(context.known_hashes)
        listing = getattr(context.target, "listing", None)
        if listing:
            extra["hub_listing_id"] = listing.get("id")
        return AnalysisResult(extra=extra)


# -- the crawl ------------------------------------------------------------------------


@dataclass
class CrawlStats:
    """Counts for progress lines and the end-of-crawl summary."""

    listed: int = 0
    unchanged: int = 0
    changed: int = 0
    files: int = 0
    records: int = 0
    flagged: int = 0
    downloaded: int = 0
    #: Repos the hub failed to list or serve (these hold the watermark back).
    errors: list[str] = field(default_factory=list)
    #: Errors recorded in this crawl's records (broken files, failed stages):
    #: the record keeps them, and the summary counts them with ``errors``.
    record_errors: int = 0
    listings: int = 0

    @property
    def error_count(self) -> int:
        """What the summary line calls errors: hub failures plus record errors."""
        return len(self.errors) + self.record_errors


@dataclass(frozen=True)
class CrawlOptions:
    """How a crawl behaves.

    Attributes:
        fingerprint: ``suspects`` (download files the header pass flagged),
            ``all`` (download every model file), ``none`` (never download).
        batch: repos per unit of work; a unit's records are committed and its
            repos marked together (the loss bound of a killed crawl).
        concurrency: threads listing repo trees and cards at once.
        incremental: skip repos whose commit did not move, and stop listing at
            the last finished crawl's watermark.
        suspect_severity: the least severity that makes a file a suspect.
        all_files: scan every file, not just model weights (by extension).
        read_headers: read each file's header with ranged requests; off, a
            crawl reads no content at all (the hub's hashes and the card only),
            which is enough for bank matching by sha256.
    """

    fingerprint: Fingerprint = "suspects"
    batch: int = 25
    concurrency: int = 8
    incremental: bool = True
    suspect_severity: Severity = Severity.MEDIUM
    all_files: bool = False
    read_headers: bool = True


def _older(modified: datetime | None, state: RepoState | None) -> bool:
    """True when a commit is older than the one the catalog already holds for its repo."""
    if modified is None or state is None or state.last_modified is None:
        return False
    return modified < state.last_modified


#: Adapter kinds: what a person LoRA is distributed as.
ADAPTER_KINDS = frozenset({"lora", "lycoris", "dora", "textual_inversion"})
#: File stems that name nothing. Re-uploaders of banned models used exactly
#: these ("LORA", "Test model"), and hub tools write the last two themselves.
GENERIC_STEMS = frozenset(
    {
        "lora", "loras", "test", "test model", "test lora", "model", "models", "my lora",
        "new", "new model", "untitled", "final", "last", "output", "out", "lora model",
        "adapter", "embedding", "embeddings", "checkpoint", "weights", "file", "download",
        "tmp",
    }
)  # fmt: skip
#: The names diffusers and PEFT give every adapter they save: there the repo
#: carries the model's name, so the repo's name is what is judged.
CONVENTIONAL_STEMS = frozenset(
    {"adapter model", "pytorch lora weights", "diffusion pytorch model", "model"}
)
_VERSION_TAIL = re.compile(r"(?:\s*(?:v|ver|version|epoch|step|e)?\s*\d+)+$")
_HEX = re.compile(r"^[0-9a-f]{8,}$")


def is_generic_name(file_name: str) -> bool:
    """Whether a model file's name says nothing about the model (``LORA.safetensors``).

    Extensions, separators, case and trailing version or step numbers are
    ignored; numbers alone, hash-like hex and one- or two-letter stems count
    as generic too.

    >>> is_generic_name("Test_model-000010.safetensors"), is_generic_name("jane_roe_v2.safetensors")
    (True, False)
    """
    bare = _bare_stem(file_name)
    return (
        bare in GENERIC_STEMS
        or bare in CONVENTIONAL_STEMS
        or len(bare) <= 2
        or bool(_HEX.match(bare))
    )


def _bare_stem(name: str) -> str:
    stem = PurePosixPath(name.replace("\\", "/")).name.lower()
    stem = re.sub(r"\.(safetensors|sft|ckpt|pt|pth|bin|gguf|zip)$", "", stem)
    stem = " ".join(re.sub(r"[_\-.()\[\]]+", " ", stem).split())
    return _VERSION_TAIL.sub("", stem).strip()


def _hides_its_name(record: Mapping[str, Any]) -> bool:
    """A generic file name, or a conventional one (``adapter_model``) in a generic repo."""
    location = record.get("location") or {}
    uri = str(location.get("uri") or record.get("path") or "")
    name = uri.split("#", 1)[1] if "#" in uri else uri
    if _bare_stem(name) in CONVENTIONAL_STEMS:
        repo = str(location.get("repo") or "")
        # A local folder has no repo: the folder holding the file stands for it.
        holder = (
            repo.rsplit("/", 1)[-1] if repo else PurePosixPath(uri.split("#", 1)[0]).parent.name
        )
        return is_generic_name(holder) or _bare_stem(holder) in ("", "lora")
    return is_generic_name(name)


def is_suspect(record: Mapping[str, Any], threshold: Severity = Severity.MEDIUM) -> bool:
    """True when a record earns a full download for fingerprinting.

    A suspect is what a header read cannot clear: a verdict of ``threshold``
    or more, any label that fired, a positive bank match or a reader finding,
    and an adapter that hides what it is: a generic file name or no training
    metadata. That last kind is exactly the disguise of the mass re-uploads
    (renamed, metadata stripped); only its weights' fingerprint can tell
    whether it is a banned model's copy.
    """
    if record_severity(record) >= threshold:
        return True
    if any(not m.get("negative") for m in record.get("matches") or ()):
        return True
    if record.get("findings"):
        return True
    labels = (record.get("verdict") or {}).get("labels") or {}
    if any(isinstance(v, Mapping) and v.get("fired") for v in labels.values()):
        return True
    if record.get("kind") in ADAPTER_KINDS and not record.get("errors"):
        if _hides_its_name(record):
            return True
        # kohya and most trainers write their settings into the header; diffusers
        # and PEFT never do, so only there is a bare header no disguise.
        metadata = record.get("metadata") or {}
        trained_by_kohya = record.get("key_scheme") != "diffusers_peft"
        if trained_by_kohya and not any(str(k).startswith(("ss_", "modelspec.")) for k in metadata):
            return True
    return False


ProgressFn = Callable[[str, CrawlStats], None]


class Crawler:
    """Runs crawls of one hub into one catalog.

    Args:
        spec: the hub to crawl (see :class:`ConnectorSpec`).
        catalog: where records go.
        analyzers: the scan's judges (``pipeline.analyzers.build_analyzers``).
        executor: where header reads and analysis run (threads, processes, Dask).
        options: see :class:`CrawlOptions`.
        progress: called with a one-line message and the running stats.

    Example::

        crawler = Crawler(ConnectorSpec("huggingface"), Catalog.open(url), analyzers)
        stats = crawler.crawl(RepoQuery(author="acme"))
    """

    def __init__(
        self,
        spec: ConnectorSpec,
        catalog: Catalog,
        analyzers: Sequence[Analyzer] = (),
        *,
        executor: Any = None,
        options: CrawlOptions | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        self.spec = spec
        self.connector = build_connector(spec)
        self.catalog = catalog
        self.store = HubStore(catalog.engine)
        self.options = options or CrawlOptions()
        self.scanner = Scanner(
            catalog,
            hash_files=True,
            analyzers=[*analyzers, HubFactsAnalyzer()],
            executor=executor,
            force=True,
        )
        self.progress = progress or (lambda _msg, _stats: None)
        self.stats = CrawlStats()

    def cursor_name(self, query: RepoQuery) -> str:
        where = self.spec.endpoint or self.spec.root or "default"
        return f"{self.spec.hub}:{where}:{query.key()}"

    # -- one batch of repos --

    def _files_of(self, repo: RepoRef) -> tuple[RepoRef, list[FileRef], str | None]:
        """List a repo's files (refreshing a repo whose pinned commit vanished) and its card."""
        try:
            files = self.connector.list_files(repo)
        except HubNotFound:
            if self.spec.hub != "huggingface":
                raise
            # Force-pushed or deleted between listing and reading: read its new head.
            repo = self.connector.repo(repo.repo)
            files = self.connector.list_files(repo)
        card = None
        if self.spec.hub == "civitai" or any(f.path == "README.md" for f in files):
            card = self.connector.read_card(repo)
        return repo, files, card

    def _targets(
        self, repo: RepoRef, files: list[FileRef], card: str | None, listing: Any
    ) -> list[HubTarget]:
        mode: Mode
        if self.options.fingerprint == "all":
            mode = "download"
        elif self.spec.hub == "civitai" or not self.options.read_headers:
            mode = "listing"
        else:
            mode = "header"
        return [
            hub_target(self.spec, f, mode=mode, card=card, listing=listing)
            for f in files
            if self.options.all_files or is_model_file(f.path)
        ]

    def process(self, repos: Sequence[RepoRef]) -> list[dict[str, Any]]:
        """Read ``repos`` (already known to have changed), commit records, mark them crawled.

        Returns the records written.
        """
        if not repos:
            return []
        listing_of: dict[str, Any] = {}
        if self.spec.hub == "civitai":
            from likenessguard.hubs.civitai import to_listing

            listing_of = {r.repo: to_listing(r.raw) for r in repos}
            self.stats.listings += self.store.upsert_listings(
                "civitai", [(r.repo, r.revision, listing_of[r.repo]) for r in repos]
            )
        listed: list[tuple[RepoRef, RepoRef, list[FileRef], str | None]] = []
        failed: list[tuple[RepoRef, str]] = []
        workers = max(1, min(self.options.concurrency, len(repos)))
        with ThreadPoolExecutor(workers, thread_name_prefix="likenessguard-crawl") as pool:
            futures = [(r, pool.submit(self._files_of, r)) for r in repos]
            for original, fut in futures:
                try:
                    fresh, files, card = fut.result()
                except HubError as exc:
                    failed.append((original, str(exc)))
                    continue
                listed.append((original, fresh, files, card))
        targets: list[HubTarget] = []
        for _original, fresh, files, card in listed:
            targets.extend(self._targets(fresh, files, card, listing_of.get(fresh.repo)))
        self.stats.files += len(targets)
        records = [dict(e.record) for e in self.scanner.run(targets)]
        if self.options.fingerprint == "suspects":
            records = self._fingerprint_suspects(targets, records)
        # Records are committed (Scanner.run flushes before returning): now the
        # previous commit's records can go and the repos can be marked.
        olds = self.store.repo_states(self.spec.hub, [fresh.repo for _, fresh, _, _ in listed])
        marks = []
        for original, fresh, fs, _card in listed:
            old = olds.get(fresh.repo)
            modified = fresh.last_modified or original.last_modified
            if _older(modified, old):
                # A webhook for an earlier commit, delivered after a later one was
                # crawled: its records are kept as what was public then, but the
                # repo's state (and the newer records) stay at the later commit.
                continue
            if old and old.last_commit and old.last_commit != fresh.revision:
                self._forget(fresh, old.last_commit, [f.path for f in fs])
            marks.append((fresh.repo, fresh.revision, modified, len(fs)))
        self.store.mark_repos(self.spec.hub, marks)
        for _repo, message in failed:
            self.stats.errors.append(message)
            self.progress(f"error: {message}", self.stats)
        self.stats.records += len(records)
        self.stats.record_errors += sum(len(r.get("errors") or ()) for r in records)
        self.stats.flagged += sum(
            1 for r in records if is_suspect(r, self.options.suspect_severity)
        )
        return records

    def _forget(self, repo: RepoRef, old_commit: str, paths: Sequence[str]) -> None:
        """Settle the previous commit's records: replaced ones go, dropped files are marked.

        A file the new commit no longer has is marked removed (and kept, with
        its evidence and review history); one it still has is replaced by the
        new commit's record, unless a review case hangs on the old record.
        """
        if repo.hub != "huggingface":
            # Civitai keeps every version's files under the model: nothing to settle.
            return
        self.store.retire_commit(
            repo.hub,
            repo.repo,
            f"hf://{repo.repo}@{old_commit}/",
            commit=repo.revision,
            paths=paths,
        )

    def _fingerprint_suspects(
        self, targets: list[HubTarget], records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        by_uri = {t.uri: t for t in targets}
        suspects = [
            by_uri[str(r["location"]["uri"]).split("#", 1)[0]]
            for r in records
            if is_suspect(r, self.options.suspect_severity)
            and str(r["location"]["uri"]).split("#", 1)[0] in by_uri
        ]
        if not suspects:
            return records
        again = [
            hub_target(self.spec, t._file(), mode="download", card=t.card, listing=t.listing)
            for t in {t.uri: t for t in suspects}.values()
        ]
        self.stats.downloaded += len(again)
        self.progress(f"fingerprinting {len(again)} suspect file(s) (full download)", self.stats)
        redone = {str(e.record["location"]["uri"]): dict(e.record) for e in self.scanner.run(again)}
        return [redone.get(str(r["location"]["uri"]), r) for r in records]

    # -- whole crawls --

    def _changed(self, repos: Sequence[RepoRef]) -> list[RepoRef]:
        if not self.options.incremental:
            return list(repos)
        states = self.store.repo_states(self.spec.hub, [r.repo for r in repos])
        changed = []
        for r in repos:
            state = states.get(r.repo)
            if state is not None and state.last_commit == r.revision and not state.error:
                self.stats.unchanged += 1
            else:
                changed.append(r)
        self.stats.changed += len(changed)
        return changed

    def crawl(self, query: RepoQuery) -> CrawlStats:
        """List repos matching ``query`` and scan every one that changed since its last crawl."""
        self.stats = CrawlStats()
        name = self.cursor_name(query)
        saved = self.store.cursor(name) if self.options.incremental else None
        since = query.since
        if saved is not None and saved.watermark is not None:
            since = max(since, saved.watermark) if since else saved.watermark
        listing_query = RepoQuery(
            author=query.author,
            search=query.search,
            tags=query.tags,
            since=since,
            limit=query.limit,
            types=query.types,
            nsfw=query.nsfw,
        )
        newest: datetime | None = None
        if self.spec.hub == "civitai":
            newest = self._crawl_pages(listing_query, name, saved.cursor if saved else None)
        else:
            batch: list[RepoRef] = []
            for repo in self.connector.list_repos(listing_query):
                self.stats.listed += 1
                if repo.last_modified and (newest is None or repo.last_modified > newest):
                    newest = repo.last_modified
                batch.append(repo)
                if len(batch) >= self.options.batch:
                    self.process(self._changed(batch))
                    self.progress(self._line(), self.stats)
                    batch = []
            self.process(self._changed(batch))
        # The listing ran to its end: the next incremental crawl can stop here.
        # A limited crawl did not see everything, and a crawl with failed repos
        # must list them again, so neither moves the watermark.
        if query.limit is None and not self.stats.errors:
            old = saved.watermark if saved else None
            mark = max(d for d in (newest, old) if d is not None) if newest or old else None
            self.store.save_cursor(name, self.spec.hub, cursor=None, watermark=mark)
        self.progress(self._line(done=True), self.stats)
        return self.stats

    def _crawl_pages(self, query: RepoQuery, name: str, cursor: str | None) -> datetime | None:
        from likenessguard.hubs.civitai import CivitaiConnector

        assert isinstance(self.connector, CivitaiConnector)
        saved = self.store.cursor(name)
        newest: datetime | None = None
        for refs, next_cursor in self.connector.pages(query, cursor):
            self.stats.listed += len(refs)
            for r in refs:
                if r.last_modified and (newest is None or r.last_modified > newest):
                    newest = r.last_modified
            self.process(self._changed(refs))
            if next_cursor is not None:
                # Resume point: the next page, saved only once this page is committed.
                self.store.save_cursor(
                    name,
                    self.spec.hub,
                    cursor=next_cursor,
                    watermark=saved.watermark if saved else None,
                )
            self.progress(self._line(), self.stats)
        return newest

    def scan_repo(self, repo_id: str, revision: str | None = None) -> list[dict[str, Any]]:
        """Scan one repo at ``revision`` (default: its head) unless already scanned there.

        With a revision, the files, headers and card are read at exactly that
        commit (``/api/models/{repo}/revision/{rev}``, ``tree/{rev}``,
        ``resolve/{rev}/...``), even if the repo has moved on since: a file
        pushed and deleted minutes later is still catalogued, at the commit
        that published it.
        """
        repo = self.connector.repo(repo_id, revision)
        self.stats.listed += 1
        return self.process(self._changed([repo]))

    def scan_event(self, event: HubEvent) -> int:
        """Scan the repo a queued webhook event names, at the commit it names; records written."""
        return len(self.scan_repo(event.repo, event.revision))

    def _line(self, done: bool = False) -> str:
        s = self.stats
        head = "done" if done else "crawling"
        return (
            f"{head}: {s.listed} repos listed, {s.changed} changed, {s.unchanged} unchanged, "
            f"{s.files} files, {s.records} records, {s.flagged} flagged, "
            f"{s.downloaded} downloaded, {s.error_count} errors"
        )


class EventScanner:
    """Scans queued events with one :class:`Crawler` per hub, built on first use.

    The worker drains one queue fed by Hugging Face webhooks and by sweeps of
    any hub; each event is scanned by the crawler of its own hub (Hugging Face
    at the event's commit, Civitai the model's current listing).

    Args:
        specs: a connector spec per hub name (``huggingface``, ``civitai``).
        make: builds the crawler for a spec (analyzers, executor, options).
    """

    def __init__(
        self, specs: Mapping[str, ConnectorSpec], make: Callable[[ConnectorSpec], Crawler]
    ) -> None:
        self.specs = dict(specs)
        self.make = make
        self.crawlers: dict[str, Crawler] = {}

    def __call__(self, event: HubEvent) -> int:
        crawler = self.crawlers.get(event.hub)
        if crawler is None:
            spec = self.specs.get(event.hub)
            if spec is None:
                raise UsageError(
                    f"event {event.id} is for hub {event.hub!r}, which this worker does not "
                    f"scan (it scans {', '.join(sorted(self.specs))})"
                )
            crawler = self.crawlers[event.hub] = self.make(spec)
        return crawler.scan_event(event)


def sweep(
    spec: ConnectorSpec,
    catalog: Catalog,
    query: RepoQuery,
    *,
    progress: ProgressFn | None = None,
) -> tuple[int, int]:
    """Queue a scan for every repo that moved since the last sweep; webhooks' safety net.

    Hugging Face caps webhook triggers per day and deliveries can be lost, so a
    periodic sweep lists repos modified since its own watermark and enqueues an
    event for each whose commit differs from the catalog's. Events are
    deduplicated on (repo, commit), so a sweep and a webhook announcing the
    same commit cost one scan. Civitai sends no webhooks at all: there a sweep
    (a model's "commit" is its newest version id) and the worker are the
    continuous watch.

    Returns:
        (repos listed, events newly queued).
    """
    connector = build_connector(spec)
    store = HubStore(catalog.engine)
    name = f"sweep:{spec.hub}:{spec.endpoint or spec.root or 'default'}:{query.key()}"
    saved = store.cursor(name)
    since = query.since
    if saved is not None and saved.watermark is not None:
        since = max(since, saved.watermark) if since else saved.watermark
    listing = RepoQuery(
        author=query.author, search=query.search, tags=query.tags, since=since, limit=query.limit
    )
    listed = queued = 0
    newest: datetime | None = None
    batch: list[RepoRef] = []

    def flush() -> None:
        nonlocal queued
        states = store.repo_states(spec.hub, [r.repo for r in batch])
        for r in batch:
            state = states.get(r.repo)
            if state is not None and state.last_commit == r.revision:
                continue
            _, created = store.enqueue(
                spec.hub, r.repo, r.revision, "sweep", {"repo": r.repo, "sha": r.revision}
            )
            queued += int(created)
        batch.clear()

    for repo in connector.list_repos(listing):
        listed += 1
        if repo.last_modified and (newest is None or repo.last_modified > newest):
            newest = repo.last_modified
        batch.append(repo)
        if len(batch) >= 200:
            flush()
    flush()
    if query.limit is None and newest is not None:
        store.save_cursor(name, spec.hub, cursor=None, watermark=newest)
    if progress is not None:
        progress(f"sweep: {listed} repos listed, {queued} queued", CrawlStats(listed=listed))
    return listed, queued


def crawl_executor(kind: str, concurrency: int) -> Any:
    """The executor for ``--executor``: ``local`` (threads: header reads wait on the network),
    ``dask-local`` (a LocalCluster) or ``dask://host:port`` (a running scheduler)."""
    if kind in ("local", "", None):
        from likenessguard.pipeline.executors.local import ThreadExecutor

        return ThreadExecutor(max(1, concurrency))
    if kind == "dask-local" or kind.startswith(("dask://", "tcp://")):
        from likenessguard.pipeline.executors.dask import DaskExecutor

        return DaskExecutor.from_address(kind)
    raise UsageError(f"unknown executor {kind!r}: use local, dask-local or dask://host:8786")
