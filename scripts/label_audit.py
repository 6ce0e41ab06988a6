"""Audit noisy gold labels: draw stratified samples to read, then estimate the corrected scores.

Usage:
    likenessguard eval LISTINGS.jsonl --both --cv 5 --predictions pred.jsonl
    python scripts/label_audit.py sample pred.jsonl LISTINGS.jsonl --label real_person \
        [--condition as-is] [--per-stratum 25] [--audit docs/eval/label-audit.csv]
    python scripts/label_audit.py estimate pred.jsonl docs/eval/label-audit.csv \
        --label real_person [--condition as-is]
    python scripts/label_audit.py thresholds pred.jsonl docs/eval/label-audit.csv \
        --label real_person [--thresholds 0.2,0.3,0.5]

``sample`` prints, for each stratum (see likenessguard.verdicts.audit), the listings
still to judge among the first ``--per-stratum`` of its fixed random order, with
their name, tags, trained words, description and first prompts, for a person to read.
The judgements go into the audit CSV as ``label,id,judgement`` (1 / 0 / ?): ids only,
never listing text. ``estimate`` prints the detector's confusion table against the
audited labels, and the ceiling: the audited labels scored against the gold ones.
``thresholds`` prints both scores at other operating points, for choosing a policy's
threshold against what the listings really are rather than against noisy gold.
The printed listings are evaluation material: read them, never copy them into
documentation or fixtures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from likenessguard.errors import UsageError
from likenessguard.verdicts.audit import (
    at_thresholds,
    estimate,
    read_judgements,
    sample_order,
    strata,
    thresholds_text,
)
from likenessguard.verdicts.evaluate import read_listings


def _rows(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"couldn't read predictions {path} ({exc}): write them with "
            "'likenessguard eval FILE --cv 5 --predictions PATH'"
        ) from exc


def _show(rec: dict[str, Any]) -> str:
    vs = rec.get("versions") or []
    words = [w for v in vs for w in (v.get("trainedWords") or [])][:4]
    prompts = [
        (im.get("prompt") or "")[:110]
        for v in vs
        for im in (v.get("images") or [])
        if im.get("prompt")
    ][:2]
    desc = (rec.get("description") or "")[:200]
    parts = [
        str(rec.get("id")),
        str(rec.get("type", ""))[:4],
        str(rec.get("name", ""))[:70],
        ",".join(rec.get("tags") or [])[:120],
        str(words),
        desc,
        str(prompts),
    ]
    return " | ".join(parts).replace("\n", " ")


def sample(args: argparse.Namespace) -> None:
    rows = _rows(args.predictions)
    records, _ = read_listings(args.listings)
    by_id = {str(r.get("id", n)): r for n, r in enumerate(records)}
    judged = read_judgements(args.audit) if args.audit and args.audit.exists() else {}
    for name, ids in sorted(strata(rows, args.label, args.condition).items()):
        first = sample_order(ids, args.label)[: args.per_stratum]
        todo = [i for i in first if (args.label, i) not in judged]
        print(f"## {args.label} {name}: {len(ids)} listings, {len(first) - len(todo)} judged")
        for i in todo:
            print(_show(by_id[i]) if i in by_id else f"{i} | (not in {args.listings})")


def estimate_cmd(args: argparse.Namespace) -> None:
    rows = _rows(args.predictions)
    est = estimate(rows, read_judgements(args.audit), args.label, args.condition)
    print(est.to_text())


def thresholds_cmd(args: argparse.Namespace) -> None:
    rows = _rows(args.predictions)
    judgements = read_judgements(args.audit)
    table = at_thresholds(
        rows, judgements, args.label, args.condition, args.thresholds, design=args.design
    )
    print(thresholds_text(args.label, args.condition, table))


def _threshold_list(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(0.0 <= v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give comma-separated scores between 0 and 1, e.g. 0.2,0.3,0.5"
        )
    return values


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample", help="print the listings still to judge")
    s.add_argument("predictions", type=Path)
    s.add_argument("listings", type=Path)
    s.add_argument("--audit", type=Path, help="judgements so far (skipped in the output)")
    s.add_argument("--per-stratum", type=int, default=25)
    e = sub.add_parser("estimate", help="scores against the audited labels")
    e.add_argument("predictions", type=Path)
    e.add_argument("audit", type=Path)
    t = sub.add_parser("thresholds", help="gold and audited scores at other thresholds")
    t.add_argument("predictions", type=Path)
    t.add_argument("audit", type=Path)
    t.add_argument(
        "--thresholds",
        type=_threshold_list,
        default=[0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7],
        help="comma-separated scores (default: 0.1,0.2,0.25,0.3,0.4,0.5,0.6,0.7)",
    )
    t.add_argument(
        "--design",
        default="as-is",
        choices=("as-is", "disguised"),
        help="the condition whose strata the judgements were sampled from (default as-is)",
    )
    for p in (s, e, t):
        p.add_argument("--label", required=True, choices=("real_person", "sexual"))
        p.add_argument("--condition", default="as-is", choices=("as-is", "disguised"))
    args = ap.parse_args(argv)
    try:
        {"sample": sample, "estimate": estimate_cmd, "thresholds": thresholds_cmd}[args.cmd](args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
