"""``explain``, ``classify-listings``, ``guard``, ``eval`` and ``policy``: the verdict commands.

``explain`` answers a reviewer's "why is this flagged?" with every cited
evidence item quoted as the uploader wrote it; ``classify-listings`` judges
hub listings (and bounty/request texts) without any file; ``guard`` is the
generation-time check an inference service calls; ``eval`` measures the
detectors against labelled listings (docs/evaluation.md).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from likenessguard.cli.common import DbOption, console, exit_on_error
from likenessguard.cli.exit_codes import ExitCode
from likenessguard.errors import UsageError
from likenessguard.registry.base import Registry
from likenessguard.verdicts.base import Severity, Verdict
from likenessguard.verdicts.policy import Policy, default_policy, default_policy_text, load_policy


class OutFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class ListingFormat(StrEnum):
    JSONL = "jsonl"
    TABLE = "table"


PolicyOption = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        help="Policy YAML file (default: the packaged policy; see docs/policy.md).",
        show_default=False,
    ),
]


def _policy(path: Path | None) -> Policy:
    return load_policy(path) if path else default_policy()


def _registry(db: str | None, *, required: bool = False) -> Registry | None:
    """The catalog's registry when --db or LIKENESSGUARD_DB names a catalog (or ``required``)."""
    import os

    if not db and not os.environ.get("LIKENESSGUARD_DB") and not required:
        return None
    from likenessguard.config import resolve_db_url
    from likenessguard.store.db import open_catalog
    from likenessguard.store.registry import load_registry

    engine = open_catalog(resolve_db_url(db))
    try:
        return load_registry(engine)
    finally:
        engine.dispose()


def _verdict_lines(v: Verdict) -> list[str]:
    lines = [f"severity: {v.severity.label}" + (f"   subject: {v.subject}" if v.subject else "")]
    for label, r in v.labels.items():
        mark = "FIRED" if r.fired else "-"
        lines.append(f"  {label:<12} {r.score:.3f}  {mark}")
        for ev in r.evidence:
            count = f" x{ev.count}" if ev.count > 1 else ""
            text = " ".join(ev.text.split())
            text = text if len(text) <= 160 else text[:157] + "..."
            lines.append(
                f"      {ev.source}:{ev.field} [{ev.signal}{count}] "
                + json.dumps(text, ensure_ascii=False)
            )
    return lines


def explain(
    file: Annotated[
        Path,
        typer.Argument(
            help="A model file or folder (the README, sidecars and previews beside it too)."
        ),
    ],
    policy: PolicyOption = None,
    db: DbOption = None,
    fmt: Annotated[
        OutFormat, typer.Option("--format", "-f", help="text for people, json for machines.")
    ] = OutFormat.TEXT,
) -> None:
    """Say why a model gets its severity: findings, bank matches and the evidence quoted."""
    with exit_on_error():
        if not file.exists():
            raise UsageError(f"{file} does not exist: give the path of a model file")
        explained = _explained(file, policy, db)
    if fmt is OutFormat.JSON:
        for item in explained:
            typer.echo(json.dumps(item, ensure_ascii=False))
        return
    con, err = console(), console(stderr=True)
    for item in explained:
        con.print(item["path"], markup=False)
        for line in _explanation_lines(item):
            con.print(line, markup=False)
        for e in item["errors"]:
            err.print(f"warning: {e}", markup=False)


def _explanation_lines(item: dict[str, Any]) -> list[str]:
    lines = [f"effective severity: {item['severity']}"]
    for f in item["findings"]:
        lines.append(f"  finding {f.get('code')} ({f.get('severity')}): {f.get('message')}")
    for m in item["matches"]:
        entry = m.get("entry") or {}
        how = m.get("method")
        sim = f" {float(m.get('similarity') or 0):.3f}" if how == "fingerprint" else ""
        kind = "allow-bank match" if m.get("negative") else "bank match"
        lines.append(
            f"  {kind} {m.get('bank')}:{entry.get('name') or entry.get('id')} ({how}{sim})"
        )
    lines.extend(_verdict_lines(Verdict.from_json(item["verdict"])))
    lines.append(f"  ({len(item['evidence'])} evidence items read)")
    return lines


def _explained(file: Path, policy: Path | None, db: str | None) -> list[dict[str, Any]]:
    """Run ``file`` through the scan's own stages; one explanation per artifact it holds.

    ``explain`` used to read, extract and judge on a path of its own, so it
    said severity none for a pickle that ``scan`` rates critical and never
    consulted the banks. It now runs the analyzers ``scan`` builds (verdicts
    with the registry; bank matching when a catalog is named) and writes
    nothing. Only the full evidence list, which records keep bounded, is
    extracted again, by the verdict stage's own context.
    """
    import os

    from likenessguard.config import load_settings, resolve_db_url
    from likenessguard.evidence.context import extract_all
    from likenessguard.pipeline.analyzers import build_analyzers
    from likenessguard.pipeline.base import LocalTarget
    from likenessguard.pipeline.judge import VerdictAnalyzer
    from likenessguard.pipeline.work import ScanOptions, scan_target
    from likenessguard.store.catalog import Catalog, record_severity

    settings = dict(load_settings())
    if policy is not None:
        _policy(policy)  # a bad policy file is a usage error before anything is read
        settings["policy"] = str(policy)
    catalog = None
    if db or os.environ.get("LIKENESSGUARD_DB"):
        catalog = Catalog.open(resolve_db_url(db))
    try:
        analyzers = build_analyzers(settings, catalog=catalog)
        judge = next(a for a in analyzers if isinstance(a, VerdictAnalyzer))
        target = LocalTarget.from_path(file)
        out: list[dict[str, Any]] = []
        for record in scan_target(ScanOptions(analyzers=tuple(analyzers)), target):
            data = record.to_json()
            evidence: list[Any] = []
            if record.artifact is not None:
                context = judge.context_for(record.artifact, record.location)
                evidence = [e.to_json() for e in extract_all(context)]
            out.append(
                {
                    "path": str(file),
                    "member": record.artifact.member if record.artifact else None,
                    "severity": record_severity(data).label,
                    "verdict": data.get("verdict") or Verdict(Severity.NONE).to_json(),
                    "findings": data.get("findings") or [],
                    "matches": data.get("matches") or [],
                    "evidence": evidence,
                    "errors": list(data.get("errors") or ()),
                }
            )
        return out
    finally:
        if catalog is not None:
            catalog.close()


def classify_listings(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSONL: Civitai listing records (dev-data shape or raw API model objects) "
            "or request texts ({id, text}); '-' reads stdin."
        ),
    ],
    fmt: Annotated[
        ListingFormat,
        typer.Option(
            "--format", "-f", help="jsonl: one {id, verdict} per input line; table for people."
        ),
    ] = ListingFormat.JSONL,
    policy: PolicyOption = None,
    db: DbOption = None,
) -> None:
    """Classify listings without their files: one output line per input line."""
    from likenessguard.verdicts.judge import judge_listing

    with exit_on_error():
        pol = _policy(policy)
        reg = _registry(db)
        if str(file) == "-":
            stream: Any = sys.stdin
            name = "<stdin>"
        else:
            try:
                stream = file.open("r", encoding="utf-8", errors="replace")
            except OSError as exc:
                raise UsageError(f"couldn't read {file}: {exc.strerror or exc}") from None
            name = str(file)
    err = console(stderr=True)
    ok = bad = 0
    with stream:
        for n, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                bad += 1
                err.print(
                    f"error: {name}:{n}: not JSON ({str(exc)[:60]}): line skipped", markup=False
                )
                continue
            if isinstance(rec, str):
                rec = {"id": n, "text": rec}
            if not isinstance(rec, dict):
                bad += 1
                err.print(
                    f"error: {name}:{n}: expected a JSON object, "
                    f"got {type(rec).__name__}: line skipped",
                    markup=False,
                )
                continue
            v = judge_listing(rec, pol, reg)
            rid = rec.get("id", n)
            ok += 1
            if fmt is ListingFormat.JSONL:
                typer.echo(json.dumps({"id": rid, "verdict": v.to_json()}, ensure_ascii=False))
            else:
                fired = ",".join(str(k) for k, r in v.labels.items() if r.fired) or "-"
                typer.echo(f"{rid!s:<12} {v.severity.label:<9} {fired:<32} {v.subject or ''}")
    if ok == 0 and bad:
        raise typer.Exit(int(ExitCode.USAGE))


def guard(
    prompt: Annotated[str, typer.Option("--prompt", help="The generation prompt to check.")],
    lora_hash: Annotated[
        list[str] | None,
        typer.Option(
            "--lora-hash",
            help="Hash of a LoRA the request loads (sha256, AutoV2, AutoV3 or a prefix); "
            "repeatable.",
        ),
    ] = None,
    db: DbOption = None,
    policy: PolicyOption = None,
    fmt: Annotated[
        OutFormat, typer.Option("--format", "-f", help="text for people, json for services.")
    ] = OutFormat.TEXT,
) -> None:
    """Check a generation request; exit 1 when it must be blocked."""
    from likenessguard.verdicts.guard import check_prompt

    hashes = list(lora_hash or [])
    with exit_on_error():
        pol = _policy(policy)
        lookup = None
        reg = None
        import os

        if hashes or db or os.environ.get("LIKENESSGUARD_DB"):
            from likenessguard.config import resolve_db_url
            from likenessguard.store.db import open_catalog
            from likenessguard.store.registry import load_registry, records_by_hash

            engine = open_catalog(resolve_db_url(db))
            reg = load_registry(engine)

            def lookup(h: str) -> list[dict[str, Any]]:
                return records_by_hash(engine, h)

        result = check_prompt(prompt, hashes, lookup=lookup, policy=pol, registry=reg)
    if fmt is OutFormat.JSON:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        typer.echo("BLOCKED" if result.blocked else "allowed")
        for r in result.reasons:
            typer.echo(f"  - {r}")
        for lo in result.loras:
            if not lo["known"]:
                typer.echo(f"  note: LoRA {lo['hash']} is not in the catalog (scan it to judge it)")
    if result.blocked:
        raise typer.Exit(int(ExitCode.FINDINGS))


def eval_cmd(  # noqa: PLR0917 (Typer maps each parameter to an option)
    file: Annotated[
        Path, typer.Argument(help="Labelled listings (JSONL with poi / nsfw booleans).")
    ],
    disguised: Annotated[
        bool,
        typer.Option(
            "--disguised", help="Judge each record with its name, tags and descriptions removed."
        ),
    ] = False,
    both: Annotated[
        bool,
        typer.Option("--both", help="Report as-is and disguised (one training pass per fold)."),
    ] = False,
    cv: Annotated[
        int | None,
        typer.Option(
            "--cv",
            help="Retrain the models in K folds (honest on the data they were trained on; "
            "needs scikit-learn).",
        ),
    ] = None,
    policy: PolicyOption = None,
    fmt: Annotated[OutFormat, typer.Option("--format", "-f")] = OutFormat.TEXT,
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions",
            help="Write each record's gold labels, scores and outcome here (JSONL; ids and "
            "numbers only), for error analysis and label audits.",
        ),
    ] = None,
) -> None:
    """Precision, recall, F1 and confusion counts per label against gold labels."""
    from likenessguard.verdicts.evaluate import evaluate_conditions, read_listings

    err = console(stderr=True)
    with exit_on_error():
        records, errors = read_listings(file)
        for e in errors:
            err.print(f"error: {e}", markup=False)
        if not records:
            raise UsageError(f"{file} holds no listing records")
        conds = ("as-is", "disguised") if both else ("disguised",) if disguised else ("as-is",)
        with _predictions_sink(predictions) as sink:
            reports = evaluate_conditions(
                records,
                conds,
                policy=_policy(policy),
                cv=cv,
                progress=lambda m: err.print(m, markup=False),
                predictions=sink,
            )
    for report in reports:
        if fmt is OutFormat.JSON:
            typer.echo(json.dumps(report.to_json()))
        else:
            typer.echo(report.to_text() + "\n")


@contextmanager
def _predictions_sink(path: Path | None) -> Iterator[Callable[[dict[str, Any]], None] | None]:
    if path is None:
        yield None
        return
    try:
        fh = path.open("w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"couldn't write --predictions {path}: {exc.strerror or exc}: choose a writable path"
        ) from exc

    def write(row: dict[str, Any]) -> None:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")

    with fh:
        yield write


policy_app = typer.Typer(
    help="Show or check a verdict policy (thresholds, weights, severity rules).",
    no_args_is_help=True,
)


@policy_app.command("show")
def policy_show(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="A policy file (default: the packaged default, printed with its comments)."
        ),
    ] = None,
) -> None:
    """Print a policy as YAML."""
    import yaml

    with exit_on_error():
        if file is None:
            typer.echo(default_policy_text(), nl=False)
            return
        pol = load_policy(file)
    typer.echo(yaml.safe_dump(pol.to_json(), sort_keys=False), nl=False)


@policy_app.command("check")
def policy_check(
    file: Annotated[Path, typer.Argument(help="The policy YAML file to validate.")],
) -> None:
    """Validate a policy file; exit 2 with the exact problem when it is invalid."""
    with exit_on_error():
        pol = load_policy(file)
    typer.echo(f"ok: {file} is a valid policy ({len(pol.severity_rules)} severity rules)")


def register(app: typer.Typer) -> None:
    app.command("explain")(explain)
    app.command("classify-listings")(classify_listings)
    app.command("guard")(guard)
    app.command("eval")(eval_cmd)
    app.add_typer(policy_app, name="policy")
