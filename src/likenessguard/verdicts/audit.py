"""How good is a detector against what the listings really show, when the gold labels are noisy?

``likenessguard eval --predictions`` records, per listing, its gold label, score and
whether the detector fired. A person reads a random sample of each *stratum* of those
outcomes (the detector's hits that gold calls right, its hits that gold calls wrong,
its misses, and the gold negatives it passed, split by score because real positives
hide among the high scores) and judges each listing from its own text: ``1`` it is
what the label means, ``0`` it is not, ``?`` the text cannot tell. Each stratum's share
of real positives, applied to the stratum's size, gives the confusion table against
audited labels; a Beta posterior per stratum gives its uncertainty.

Judgements are stored as ``label,id,judgement`` rows (ids only, no listing text:
docs/eval/label-audit.csv). Sampling order is a hash of the label and id, so the same
predictions always give the same sample and a larger sample extends a smaller one.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from likenessguard.errors import UsageError
from likenessguard.verdicts.evaluate import precision_recall_f1

# Score bands of the gold negatives the detector passed: most are far below the
# threshold and hold almost no real positives, the few near it hold many.
NEGATIVE_BANDS = (0.2, 0.05, 0.01, 0.0)
JUDGEMENTS = frozenset({"1", "0", "?"})


def stratum(gold: bool, fired: bool, score: float) -> str:
    """The stratum of one outcome: ``tp``, ``fp``, ``fn`` or ``tn>=BAND``."""
    if fired:
        return "tp" if gold else "fp"
    if gold:
        return "fn"
    band = next(b for b in NEGATIVE_BANDS if score >= b)
    return f"tn>={band:g}"


def strata(rows: Iterable[Mapping[str, Any]], label: str, condition: str) -> dict[str, list[str]]:
    """Ids (as strings) per stratum, for one label and condition of a predictions file."""
    out: dict[str, list[str]] = {}
    for row in rows:
        if row.get("condition") != condition or label not in row.get("labels", {}):
            continue
        lab = row["labels"][label]
        key = stratum(bool(lab["gold"]), bool(lab["fired"]), float(lab["score"]))
        out.setdefault(key, []).append(str(row["id"]))
    return out


def sample_order(ids: Iterable[str], label: str) -> list[str]:
    """``ids`` in a fixed pseudo-random order: the first k are a uniform random sample."""
    return sorted(ids, key=lambda i: hashlib.sha256(f"{label}:{i}".encode()).digest())


def read_judgements(path: str | Path) -> dict[tuple[str, str], str]:
    """``{(label, id): judgement}`` from an audit CSV (``label,id,judgement``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"couldn't read audit file {p}: {exc.strerror or exc}") from exc
    out: dict[tuple[str, str], str] = {}
    reader = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    if reader.fieldnames is None or not {"label", "id", "judgement"} <= set(reader.fieldnames):
        raise UsageError(f"{p}: expected a CSV header 'label,id,judgement'")
    for n, row in enumerate(reader, 2):
        j = (row.get("judgement") or "").strip()
        if j not in JUDGEMENTS:
            raise UsageError(f"{p}:{n}: judgement {j!r} is not 1, 0 or ?: fix the row")
        out[(row["label"].strip(), row["id"].strip())] = j
    return out


@dataclass(frozen=True)
class StratumCount:
    name: str
    size: int
    positive: int
    negative: int
    unsure: int

    @property
    def audited(self) -> int:
        return self.positive + self.negative + self.unsure


@dataclass(frozen=True)
class EstimatedScores:
    """An estimated confusion table (point estimates) and a 90% interval for its F1."""

    tp: float
    fp: float
    fn: float
    f1_low: float
    f1_high: float

    @property
    def precision(self) -> float:
        return precision_recall_f1(self.tp, self.fp, self.fn)[0]

    @property
    def recall(self) -> float:
        return precision_recall_f1(self.tp, self.fp, self.fn)[1]

    @property
    def f1(self) -> float:
        return precision_recall_f1(self.tp, self.fp, self.fn)[2]

    def to_text(self) -> str:
        return (
            f"TP {self.tp:.0f}, FP {self.fp:.0f}, FN {self.fn:.0f}; precision "
            f"{self.precision:.3f}, recall {self.recall:.3f}, F1 {self.f1:.3f} "
            f"(90% interval {self.f1_low:.3f}-{self.f1_high:.3f})"
        )


@dataclass(frozen=True)
class AuditEstimate:
    """What a label audit says of a detector and of the gold labels it was scored on.

    ``detector`` scores the detector against the audited labels. ``ceiling`` scores
    the audited labels themselves against gold: what a detector that agreed with
    every audited judgement would score on the gold labels. A target above the
    ceiling can only be reached by learning the gold labels' mistakes.
    """

    label: str
    condition: str
    strata: Sequence[StratumCount]
    detector: EstimatedScores
    ceiling: EstimatedScores

    def to_text(self) -> str:
        lines = [
            f"{self.label}, {self.condition}: audited labels (unsure judgements left out)",
            f"{'stratum':<10} {'size':>6} {'audited':>8} {'real':>5} {'not':>5} {'unsure':>7}"
            f" {'share real':>11}",
        ]
        for s in self.strata:
            decided = s.positive + s.negative
            share = f"{s.positive / decided:.2f}" if decided else "-"
            lines.append(
                f"{s.name:<10} {s.size:>6} {s.audited:>8} {s.positive:>5} {s.negative:>5}"
                f" {s.unsure:>7} {share:>11}"
            )
        lines.append(f"detector vs audited labels: {self.detector.to_text()}")
        lines.append(f"audited labels vs gold (ceiling): {self.ceiling.to_text()}")
        return "\n".join(lines)


def _scores(
    tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, point: Sequence[float]
) -> EstimatedScores:
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1e-9)
    low, high = np.quantile(f1, [0.05, 0.95])
    return EstimatedScores(point[0], point[1], point[2], float(low), float(high))


def _audited_strata(
    rows: Iterable[Mapping[str, Any]],
    judgements: Mapping[tuple[str, str], str],
    label: str,
    condition: str,
) -> dict[str, list[str]]:
    """:func:`strata`, checked to hold a decided judgement in every stratum."""
    groups = strata(rows, label, condition)
    if not groups:
        raise UsageError(f"the predictions hold no {label} outcomes for condition {condition!r}")
    missing = [
        name
        for name, ids in sorted(groups.items())
        if not any(judgements.get((label, i)) in ("1", "0") for i in ids)
    ]
    if missing:
        raise UsageError(
            f"no decided judgement in stratum {', '.join(missing)} of {label}: "
            "audit a sample of it (scripts/label_audit.py sample)"
        )
    return groups


def estimate(
    rows: Iterable[Mapping[str, Any]],
    judgements: Mapping[tuple[str, str], str],
    label: str,
    condition: str,
    *,
    draws: int = 4000,
    seed: int = 0,
) -> AuditEstimate:
    """The detector's confusion table against audited labels, and the audited labels'
    against gold, from stratified samples.

    The judgements must have been sampled from ``condition``'s own strata (for another
    condition's detector use :func:`at_thresholds` with ``design``). Every stratum
    needs at least one decided (``1`` or ``0``) judgement: an unaudited
    stratum would make the estimate a guess. The point estimate uses each stratum's
    sample share; the interval draws the shares from their Beta(1/2, 1/2) posteriors,
    which pull a share of 0 or 1 from a small sample inward, so with very few
    judgements the point can sit at the edge of (or outside) its interval.
    """
    groups = _audited_strata(rows, judgements, label, condition)
    counts: list[StratumCount] = []
    for name in sorted(groups):
        js = [judgements.get((label, i)) for i in groups[name]]
        counts.append(StratumCount(name, len(js), js.count("1"), js.count("0"), js.count("?")))
    rng = np.random.default_rng(seed)
    # Per draw and for the point estimate: [detector tp, fp, fn, ceiling tp, fp, fn].
    drawn = np.zeros((6, draws))
    point = np.zeros(6)
    for c in counts:
        share = c.positive / (c.positive + c.negative)
        # Jeffreys prior: a stratum with 0 of 25 real still may hold a few.
        draw = rng.beta(c.positive + 0.5, c.negative + 0.5, draws)
        fired, gold = c.name in ("tp", "fp"), c.name in ("tp", "fn")
        for values, real in ((point, share), (drawn, draw)):
            really, not_really = c.size * real, c.size * (1 - real)
            # The detector against audited labels: real listings it fired on are hits,
            # the others it fired on false alarms, real ones it passed misses.
            values[0 if fired else 2] += really
            if fired:
                values[1] += not_really
            # The audited labels against gold, the same way round.
            values[3 if gold else 4] += really
            if gold:
                values[5] += not_really
    return AuditEstimate(
        label,
        condition,
        counts,
        _scores(drawn[0], drawn[1], drawn[2], point[:3].tolist()),
        _scores(drawn[3], drawn[4], drawn[5], point[3:].tolist()),
    )


@dataclass(frozen=True)
class ThresholdScores:
    """One operating point: the detector firing at ``score >= threshold``."""

    threshold: float
    fired: int
    gold: tuple[float, float, float]
    audited: EstimatedScores


def at_thresholds(
    rows: Sequence[Mapping[str, Any]],
    judgements: Mapping[tuple[str, str], str],
    label: str,
    condition: str,
    thresholds: Sequence[float],
    *,
    design: str | None = None,
    draws: int = 2000,
    seed: int = 0,
) -> list[ThresholdScores]:
    """Precision, recall and F1 against gold and against audited labels at other thresholds.

    The audited sample is a stratified random sample of all listings (the strata of
    the ``design`` condition's outcomes, by default ``condition``'s), so each judged
    listing stands for ``stratum size / decided judgements`` listings, whatever
    threshold is then applied and whichever condition's scores: judgements sampled
    from the as-is strata score the disguised detector with ``design="as-is"``.
    The interval resamples the judgements within each stratum (a stratified bootstrap);
    unlike :func:`estimate`'s it cannot allow for positives that a stratum's sample
    happens to lack, so it is narrower. Far from the original operating point few
    judged listings change side and the estimates are coarse: read them as a
    direction, not a promise.
    """
    design = design or condition
    groups = _audited_strata(rows, judgements, label, design)
    outcomes = {
        str(r["id"]): r["labels"][label]
        for r in rows
        if r.get("condition") == condition and label in r.get("labels", {})
    }
    scores = {i: float(o["score"]) for i, o in outcomes.items()}
    absent = sum(i not in scores for ids in groups.values() for i in ids)
    if absent:
        raise UsageError(
            f"{absent} listings of the {design} strata have no {condition} outcome: write "
            "both conditions with 'likenessguard eval FILE --both --cv 5 --predictions PATH'"
        )
    judged: list[tuple[np.ndarray, np.ndarray, float]] = []
    for ids in groups.values():
        decided = [i for i in ids if judgements.get((label, i)) in ("1", "0")]
        judged.append(
            (
                np.array([scores[i] for i in decided]),
                np.array([judgements[(label, i)] == "1" for i in decided]),
                len(ids) / len(decided),
            )
        )
    rng = np.random.default_rng(seed)
    boots = [rng.integers(0, len(s), (draws, len(s))) for s, _, _ in judged]
    all_scores = np.array(list(scores.values()))
    all_gold = np.array([bool(o["gold"]) for o in outcomes.values()])
    out = []
    for t in thresholds:
        fired = all_scores >= t
        gold_counts = (
            float((fired & all_gold).sum()),
            float((fired & ~all_gold).sum()),
            float((~fired & all_gold).sum()),
        )
        point = np.zeros(3)
        drawn = np.zeros((3, draws))
        for (s, real, weight), idx in zip(judged, boots, strict=True):
            hit = s >= t
            point += weight * np.array(
                [(hit & real).sum(), (hit & ~real).sum(), (~hit & real).sum()]
            )
            hit_b, real_b = hit[idx], real[idx]
            drawn += weight * np.stack(
                [(hit_b & real_b).sum(1), (hit_b & ~real_b).sum(1), (~hit_b & real_b).sum(1)]
            )
        audited = _scores(drawn[0], drawn[1], drawn[2], point.tolist())
        out.append(ThresholdScores(t, int(fired.sum()), precision_recall_f1(*gold_counts), audited))
    return out


def thresholds_text(label: str, condition: str, table: Sequence[ThresholdScores]) -> str:
    """:func:`at_thresholds` as a table to read."""
    lines = [
        f"{label}, {condition}: fired at score >= threshold",
        f"{'threshold':>9} {'fired':>6}  {'gold P':>6} {'R':>6} {'F1':>6}"
        f"  {'audited P':>9} {'R':>6} {'F1':>6} {'F1 90% interval':>16}",
    ]
    for row in table:
        (gp, gr, gf), a = row.gold, row.audited
        lines.append(
            f"{row.threshold:>9.2f} {row.fired:>6}  {gp:>6.3f} {gr:>6.3f} {gf:>6.3f}"
            f"  {a.precision:>9.3f} {a.recall:>6.3f} {a.f1:>6.3f}"
            f" {a.f1_low:>7.3f}-{a.f1_high:.3f}"
        )
    return "\n".join(lines)
