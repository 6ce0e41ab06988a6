"""Measuring the detectors against labelled listings: precision, recall, F1, confusion tables.

``likenessguard eval FILE.jsonl`` scores the shipped models, which is honest
only on data they were not trained on (e.g. a held-out half). On the data the
models were trained on, use ``--cv K``: the models are retrained from scratch
in each of K folds and every record is judged by models that never saw it
(needs scikit-learn). ``--disguised`` judges each record as a re-upload under a
generic name would look (see :func:`likenessguard.verdicts.training.disguise`).
Gold labels: ``poi`` -> real_person, ``nsfw`` -> sexual. ``--predictions FILE``
writes every record's gold labels, scores and outcome (one JSON line per record
and condition) so errors can be read, audited and re-counted
(``scripts/label_audit.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from likenessguard.errors import UsageError
from likenessguard.verdicts.base import Label, Verdict
from likenessguard.verdicts.judge import judge_listing
from likenessguard.verdicts.model import TextModels
from likenessguard.verdicts.policy import Policy

GOLD = {Label.REAL_PERSON: "poi", Label.SEXUAL: "nsfw"}
MAX_LINE = 8 * 1024 * 1024


def precision_recall_f1(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    """Precision, recall and F1 of counts (estimated counts may be fractional); 0 if undefined."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@dataclass
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, gold: bool, pred: bool) -> None:
        if gold and pred:
            self.tp += 1
        elif pred:
            self.fp += 1
        elif gold:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return precision_recall_f1(self.tp, self.fp, self.fn)[0]

    @property
    def recall(self) -> float:
        return precision_recall_f1(self.tp, self.fp, self.fn)[1]

    @property
    def f1(self) -> float:
        return precision_recall_f1(self.tp, self.fp, self.fn)[2]

    def to_json(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
        }


@dataclass
class EvalReport:
    records: int
    condition: str
    cv: int | None
    labels: dict[str, Confusion] = field(default_factory=dict)
    fired: dict[str, int] = field(default_factory=dict)
    severities: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "condition": self.condition,
            "cv": self.cv,
            "labels": {k: v.to_json() for k, v in self.labels.items()},
            "fired": self.fired,
            "severities": self.severities,
            "errors": len(self.errors),
        }

    def to_text(self) -> str:
        how = f"{self.cv}-fold cross-validation" if self.cv else "shipped models"
        lines = [f"{self.records} records, {self.condition}, {how}", ""]
        lines.append(
            f"{'label':<12} {'precision':>9} {'recall':>7} {'F1':>6}   "
            f"{'TP':>5} {'FP':>5} {'FN':>5} {'TN':>5}"
        )
        for name, c in self.labels.items():
            lines.append(
                f"{name:<12} {c.precision:>9.3f} {c.recall:>7.3f} {c.f1:>6.3f}   "
                f"{c.tp:>5} {c.fp:>5} {c.fn:>5} {c.tn:>5}"
            )
        lines.append("")
        lines.append("fired: " + ", ".join(f"{k} {v}" for k, v in self.fired.items()))
        lines.append("severity: " + ", ".join(f"{k} {v}" for k, v in self.severities.items()))
        return "\n".join(lines)


def read_listings(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """JSONL records and one-line errors (``FILE:LINE: ...``) for lines that are not objects."""
    p = Path(path)
    records: list[dict[str, Any]] = []
    errors: list[str] = []
    try:
        fh = p.open("r", encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"couldn't read {p}: {exc.strerror or exc}") from exc
    with fh:
        for n, line in enumerate(_lines(fh), 1):
            if not line.strip():
                continue
            if len(line) > MAX_LINE:
                errors.append(f"{p}:{n}: line longer than {MAX_LINE} bytes: skipped")
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                errors.append(f"{p}:{n}: not JSON ({str(exc)[:60]}): skipped")
                continue
            if not isinstance(obj, dict):
                errors.append(f"{p}:{n}: expected a JSON object, got {type(obj).__name__}: skipped")
                continue
            records.append(obj)
    return records, errors


def _lines(fh: Any) -> Iterator[str]:
    yield from fh


def evaluate(
    records: Sequence[Mapping[str, Any]],
    *,
    policy: Policy | None = None,
    disguised: bool = False,
    cv: int | None = None,
    seed: int = 13,
    progress: Callable[[str], None] | None = None,
) -> EvalReport:
    """Judge every record and compare with its gold labels (see the module docstring)."""
    cond = "disguised" if disguised else "as-is"
    return evaluate_conditions(
        records, (cond,), policy=policy, cv=cv, seed=seed, progress=progress
    )[0]


def evaluate_conditions(
    records: Sequence[Mapping[str, Any]],
    conditions: Sequence[str] = ("as-is", "disguised"),
    *,
    policy: Policy | None = None,
    cv: int | None = None,
    seed: int = 13,
    progress: Callable[[str], None] | None = None,
    predictions: Callable[[dict[str, Any]], None] | None = None,
) -> list[EvalReport]:
    """One report per condition (``as-is``, ``disguised``); with ``cv`` each fold's models
    are trained once and judge both views of the fold's held-out records.

    ``predictions`` receives one :func:`prediction_row` per record and condition, in
    record order.
    """
    from likenessguard.verdicts.training import disguise

    gold_labels = [lab for lab, key in GOLD.items() if any(key in r for r in records)]
    reports = []
    views: dict[str, list[Mapping[str, Any]]] = {}
    for cond in conditions:
        if cond not in ("as-is", "disguised"):
            raise UsageError(f"unknown condition {cond!r}: use as-is or disguised")
        rep = EvalReport(len(records), cond, cv)
        for lab in gold_labels:
            rep.labels[str(lab)] = Confusion()
        reports.append(rep)
        views[cond] = [disguise(r) if cond == "disguised" else r for r in records]
    verdicts: dict[str, list[Verdict | None]] = {c: [None] * len(records) for c in conditions}
    fold_of: list[int | None] = [None] * len(records)
    if cv:
        import numpy as np

        from likenessguard.verdicts.training import folds, prepare, train_models

        if progress:
            progress(f"featurizing {len(records)} records")
        prep = prepare(records)
        for k, test in enumerate(folds(len(records), cv, seed)):
            train = np.setdiff1d(np.arange(len(records)), test)
            if progress:
                progress(f"fold {k + 1}/{cv}: training on {len(train)} records")
            models: TextModels | None = train_models(prep, train)
            for i in test:
                fold_of[int(i)] = k
            for cond in conditions:
                for i in test:
                    verdicts[cond][int(i)] = judge_listing(
                        views[cond][int(i)], policy, models=models
                    )
    else:
        for cond in conditions:
            for i, view in enumerate(views[cond]):
                verdicts[cond][i] = judge_listing(view, policy)
    for rep, cond in zip(reports, conditions, strict=True):
        for n, (rec, v) in enumerate(zip(records, verdicts[cond], strict=True)):
            assert v is not None
            if predictions is not None:
                predictions(
                    prediction_row(
                        rec, n, condition=cond, fold=fold_of[n], verdict=v, gold_labels=gold_labels
                    )
                )
            for lab in gold_labels:
                rep.labels[str(lab)].add(bool(rec.get(GOLD[lab])), v.labels[lab].fired)
            for lab, r in v.labels.items():
                if r.fired:
                    rep.fired[str(lab)] = rep.fired.get(str(lab), 0) + 1
            rep.severities[v.severity.label] = rep.severities.get(v.severity.label, 0) + 1
    return reports


def prediction_row(
    record: Mapping[str, Any],
    index: int,
    *,
    condition: str,
    fold: int | None,
    verdict: Verdict,
    gold_labels: Sequence[Label],
) -> dict[str, Any]:
    """One record's outcome: its id (or line index), gold labels, scores and what fired.

    Only ids, labels and numbers: a predictions file holds no listing text, so it can
    be shared alongside an audit without repeating names or prompts.
    """
    return {
        "id": record.get("id", index),
        "index": index,
        "condition": condition,
        "fold": fold,
        "severity": verdict.severity.label,
        "labels": {
            str(lab): {
                "gold": bool(record.get(GOLD[lab])),
                "score": round(verdict.labels[lab].score, 4),
                "fired": verdict.labels[lab].fired,
            }
            for lab in gold_labels
        },
    }
