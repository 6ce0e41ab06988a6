"""``likenessguard crawl``, ``worker`` and ``sweep``: scan hubs into the catalog, keep it current.

``crawl`` is the bulk scan of a hub (or a slice of it: an author, a search);
it is incremental and resumable, so the same command run nightly only reads
what moved, and a killed run simply continues. ``worker`` drains the webhook
queue that ``serve`` fills (``POST /hooks/huggingface``); ``sweep`` queues what
webhooks missed. Progress goes to stderr, one line per batch.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer

from likenessguard.cli.common import DbOption, console, exit_on_error, open_catalog
from likenessguard.cli.exit_codes import ExitCode
from likenessguard.config import load_settings
from likenessguard.errors import UsageError
from likenessguard.hubs.base import RepoQuery
from likenessguard.hubs.http import Politeness
from likenessguard.pipeline.analyzers import build_analyzers
from likenessguard.pipeline.crawl import (
    ConnectorSpec,
    Crawler,
    CrawlOptions,
    EventScanner,
    close_connectors,
    crawl_executor,
    sweep,
)
from likenessguard.pipeline.queue import Worker, make_wakeup
from likenessguard.store.hubs import HubStore


class Hub(StrEnum):
    huggingface = "huggingface"
    civitai = "civitai"
    local = "local"


class FingerprintMode(StrEnum):
    suspects = "suspects"
    all = "all"
    none = "none"


def parse_since(text: str | None) -> datetime | None:
    """``2026-01-31`` or an ISO datetime, as UTC; a usage error otherwise."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--since {text!r} is not a date: use YYYY-MM-DD or an ISO datetime"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _spec(
    hub: Hub,
    *,
    endpoint: str | None,
    token: str | None,
    root: str | None,
    concurrency: int,
    rate: float,
    max_download: int,
) -> ConnectorSpec:
    settings = load_settings()
    if endpoint is None and hub is Hub.huggingface:
        endpoint = settings.get("hf_endpoint") or None
    if endpoint is None and hub is Hub.civitai:
        endpoint = settings.get("civitai_endpoint") or None
    if concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, got {concurrency}")
    return ConnectorSpec(
        hub=hub.value,
        endpoint=endpoint,
        token=token,
        root=root,
        policy=Politeness(rate=rate, concurrency=concurrency),
        max_download=max_download * 1024 * 1024,
    )


EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint", help="Hub URL (default: the hf_endpoint / civitai_endpoint setting)."
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="Access token (default: $HF_TOKEN or $CIVITAI_TOKEN). Never printed.",
        show_default=False,
    ),
]
ConcurrencyOption = Annotated[
    int, typer.Option("--concurrency", help="Requests in flight at once (per process).")
]
RateOption = Annotated[
    float, typer.Option("--rate", help="Requests per second at most (0: no limit).")
]
MaxDownloadOption = Annotated[
    int,
    typer.Option("--max-download", help="Largest file (MiB) downloaded for fingerprinting."),
]
RootOption = Annotated[
    str | None, typer.Option("--root", help="Folder or Hugging Face cache (for the local hub).")
]


def crawl_command(  # noqa: PLR0917  (Typer maps each option to a parameter)
    hub: Annotated[Hub, typer.Argument(help="huggingface, civitai or local.")],
    author: Annotated[str | None, typer.Option("--author", help="Only this author.")] = None,
    search: Annotated[str | None, typer.Option("--search", help="Only names matching.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only repos modified on or after (YYYY-MM-DD).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N repos.")] = None,
    fingerprint: Annotated[
        FingerprintMode,
        typer.Option(
            "--fingerprint",
            help="Download to fingerprint: suspects (flagged by the header pass), all, none.",
        ),
    ] = FingerprintMode.suspects,
    endpoint: EndpointOption = None,
    token: TokenOption = None,
    db: DbOption = None,
    executor: Annotated[
        str,
        typer.Option(
            "--executor", help="local (threads), dask-local (a LocalCluster) or dask://host:8786."
        ),
    ] = "local",
    concurrency: ConcurrencyOption = 8,
    rate: RateOption = 10.0,
    max_download: MaxDownloadOption = 8192,
    root: RootOption = None,
    bank: Annotated[
        list[str] | None, typer.Option("--bank", help="Match against this bank (repeatable).")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Re-read every repo, even unchanged ones.")
    ] = False,
    batch: Annotated[int, typer.Option("--batch", help="Repos per committed batch.")] = 25,
    headers: Annotated[
        bool,
        typer.Option(
            "--headers/--no-headers",
            help="Read each model file's header (2 ranged requests at most); --no-headers "
            "reads no content at all (stored hashes and cards only).",
        ),
    ] = True,
) -> None:
    """Scan a hub into the catalog: headers and stored hashes, downloads only for suspects."""
    err = console(stderr=True)
    with exit_on_error():
        spec = _spec(
            hub,
            endpoint=endpoint,
            token=token,
            root=root,
            concurrency=concurrency,
            rate=rate,
            max_download=max_download,
        )
        query = RepoQuery(author=author, search=search, since=parse_since(since), limit=limit)
        catalog = open_catalog(db)
        analyzers = build_analyzers(load_settings(), tuple(bank or ()), catalog=catalog)
        pool = crawl_executor(executor, concurrency)
        try:
            crawler = Crawler(
                spec,
                catalog,
                analyzers,
                executor=pool,
                options=CrawlOptions(
                    fingerprint=fingerprint.value,  # type: ignore[arg-type]
                    batch=max(1, batch),
                    concurrency=concurrency,
                    incremental=not full,
                    read_headers=headers,
                ),
                progress=lambda line, _stats: err.print(line, markup=False),
            )
            stats = crawler.crawl(query)
        finally:
            pool.close()
            close_connectors()
            catalog.close()
    if stats.errors and stats.records == 0 and stats.listed:
        raise typer.Exit(int(ExitCode.ENVIRONMENT))


def worker_command(  # noqa: PLR0917  (Typer maps each option to a parameter)
    db: DbOption = None,
    endpoint: EndpointOption = None,
    token: TokenOption = None,
    once: Annotated[
        bool, typer.Option("--once", help="Drain the queue, then exit (for cron and tests).")
    ] = False,
    poll: Annotated[float, typer.Option("--poll", help="Seconds between queue polls.")] = 5.0,
    concurrency: ConcurrencyOption = 8,
    rate: RateOption = 10.0,
    max_download: MaxDownloadOption = 8192,
    fingerprint: Annotated[
        FingerprintMode, typer.Option("--fingerprint", help="As for crawl.")
    ] = FingerprintMode.suspects,
    bank: Annotated[
        list[str] | None, typer.Option("--bank", help="Match against this bank (repeatable).")
    ] = None,
    civitai_endpoint: Annotated[
        str | None,
        typer.Option(
            "--civitai-endpoint",
            help="Civitai URL for events 'sweep --hub civitai' queued (default: the "
            "civitai_endpoint setting; token from $CIVITAI_TOKEN).",
        ),
    ] = None,
) -> None:
    """Scan the repos that Hugging Face webhooks (and sweeps) queued."""
    err = console(stderr=True)
    with exit_on_error():
        specs = {
            h.value: _spec(
                h,
                endpoint=endpoint if h is Hub.huggingface else civitai_endpoint,
                token=token if h is Hub.huggingface else None,
                root=None,
                concurrency=concurrency,
                rate=rate,
                max_download=max_download,
            )
            for h in (Hub.huggingface, Hub.civitai)
        }
        catalog = open_catalog(db)
        settings = load_settings()
        analyzers = build_analyzers(settings, tuple(bank or ()), catalog=catalog)
        pool = crawl_executor("local", concurrency)
        try:

            def make(spec: ConnectorSpec) -> Crawler:
                return Crawler(
                    spec,
                    catalog,
                    analyzers,
                    executor=pool,
                    options=CrawlOptions(
                        fingerprint=fingerprint.value,  # type: ignore[arg-type]
                        concurrency=concurrency,
                    ),
                )

            worker = Worker(
                HubStore(catalog.engine),
                EventScanner(specs, make),
                wakeup=make_wakeup(settings.get("redis_url") or None),
                log=lambda line: err.print(line, markup=False),
            )
            stop = threading.Event()
            try:
                worker.run(stop=stop, poll=poll, exit_when_idle=once)
            except KeyboardInterrupt:
                stop.set()
            err.print(f"worker: {worker.done} done, {worker.failed} failed", markup=False)
        finally:
            pool.close()
            close_connectors()
            catalog.close()


def sweep_command(  # noqa: PLR0917  (Typer maps each option to a parameter)
    db: DbOption = None,
    hub: Annotated[
        Hub,
        typer.Option(
            "--hub",
            help="huggingface (fills webhook gaps) or civitai (no webhooks: the sweep is the "
            "watch).",
        ),
    ] = Hub.huggingface,
    endpoint: EndpointOption = None,
    token: TokenOption = None,
    author: Annotated[str | None, typer.Option("--author", help="Only this author.")] = None,
    search: Annotated[str | None, typer.Option("--search", help="Only names matching.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only repos modified on or after (YYYY-MM-DD).")
    ] = None,
    concurrency: ConcurrencyOption = 8,
    rate: RateOption = 10.0,
) -> None:
    """Queue every repo that changed since the last sweep (fills webhook gaps)."""
    err = console(stderr=True)
    with exit_on_error():
        if hub is Hub.local:
            raise UsageError(
                "a local folder has no sweep: rescan it with 'likenessguard crawl local' or 'scan'"
            )
        spec = _spec(
            hub,
            endpoint=endpoint,
            token=token,
            root=None,
            concurrency=concurrency,
            rate=rate,
            max_download=1,
        )
        catalog = open_catalog(db)
        query = RepoQuery(author=author, search=search, since=parse_since(since))
        try:
            sweep(spec, catalog, query, progress=lambda line, _s: err.print(line, markup=False))
        finally:
            close_connectors()
            catalog.close()


def listings_command(
    db: DbOption = None,
    hub: Annotated[str, typer.Option("--hub", help="Whose listings (civitai).")] = "civitai",
) -> None:
    """Print the hub listings a crawl stored, one JSON object per line (for classify-listings)."""
    with exit_on_error():
        catalog = open_catalog(db)
        out = typer.get_text_stream("stdout")
        for record in HubStore(catalog.engine).listings(hub):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        catalog.close()


def register(app: typer.Typer) -> None:
    app.command("crawl")(crawl_command)
    app.command("worker")(worker_command)
    app.command("sweep")(sweep_command)
    app.command("hub-listings")(listings_command)
