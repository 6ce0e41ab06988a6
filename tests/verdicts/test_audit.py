"""Label audits: stratified samples of eval outcomes and the scores against audited labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from likenessguard.errors import UsageError
from likenessguard.verdicts.audit import (
    at_thresholds,
    estimate,
    read_judgements,
    sample_order,
    strata,
    stratum,
    thresholds_text,
)


def _row(i: int, gold: bool, fired: bool, score: float) -> dict[str, object]:
    return {
        "id": i,
        "condition": "as-is",
        "labels": {"real_person": {"gold": gold, "fired": fired, "score": score}},
    }


def test_strata_split_the_passed_negatives_by_score() -> None:
    assert stratum(True, True, 0.9) == "tp"
    assert stratum(False, True, 0.6) == "fp"
    assert stratum(True, False, 0.01) == "fn"
    assert stratum(False, False, 0.3) == "tn>=0.2"
    assert stratum(False, False, 0.004) == "tn>=0"
    rows = [_row(1, False, False, 0.3), _row(2, False, False, 0.3), _row(3, True, True, 0.9)]
    rows.append({**_row(4, True, True, 0.9), "condition": "disguised"})
    assert strata(rows, "real_person", "as-is") == {"tn>=0.2": ["1", "2"], "tp": ["3"]}


def test_sample_order_is_fixed_and_extends() -> None:
    ids = [str(i) for i in range(100)]
    order = sample_order(ids, "real_person")
    assert order == sample_order(list(reversed(ids)), "real_person")
    assert order[:10] == sample_order(ids[:], "real_person")[:10]
    assert order != ids and order != sample_order(ids, "sexual")


def test_estimate_corrects_gold_with_the_audited_shares() -> None:
    # 100 hits gold calls right, 20 gold calls wrong, 20 misses, 200 passed negatives.
    rows = [_row(i, True, True, 0.9) for i in range(100)]
    rows += [_row(100 + i, False, True, 0.7) for i in range(20)]
    rows += [_row(200 + i, True, False, 0.3) for i in range(20)]
    rows += [_row(300 + i, False, False, 0.001) for i in range(200)]
    j = {("real_person", str(i)): "1" for i in range(10)}  # audited hits: all real
    j |= {("real_person", str(100 + i)): "1" if i < 6 else "0" for i in range(8)}  # 3/4 real
    j |= {("real_person", str(200 + i)): "0" if i < 5 else "1" for i in range(10)}  # half
    j |= {("real_person", str(300 + i)): "0" for i in range(20)}
    j[("real_person", "320")] = "?"  # unsure: left out of the shares
    est = estimate(rows, j, "real_person", "as-is")
    det = est.detector
    assert (det.tp, det.fp, det.fn) == pytest.approx((100 + 15, 5, 10))
    assert det.f1 == pytest.approx(230 / 245)
    assert det.f1_low < det.f1 < det.f1_high  # the negatives may still hide a few
    # A detector agreeing with every judgement, scored on gold: it finds the 15 real
    # positives gold calls negative (FP) and passes the 10 gold positives that are not.
    ceil = est.ceiling
    assert (ceil.tp, ceil.fp, ceil.fn) == pytest.approx((100 + 10, 15, 10))
    assert ceil.f1 == pytest.approx(220 / 245)
    assert ceil.f1_low < ceil.f1 < ceil.f1_high
    assert [s.unsure for s in est.strata if s.name == "tn>=0"] == [1]
    text = est.to_text()
    assert "detector vs audited labels: TP 115, FP 5, FN 10" in text and "F1 0.939" in text
    assert "audited labels vs gold (ceiling): TP 110, FP 15, FN 10" in text
    del j[("real_person", "100")], j[("real_person", "101")]
    for i in range(2, 8):
        del j[("real_person", str(100 + i))]
    with pytest.raises(UsageError, match="no decided judgement in stratum fp"):
        estimate(rows, j, "real_person", "as-is")


def test_other_thresholds_weigh_each_judged_listing_by_its_stratum() -> None:
    rows = [_row(i, True, True, 0.9) for i in range(100)]
    rows += [_row(100 + i, False, True, 0.7) for i in range(20)]
    # The misses score 0.3 and 0.1 alternately: a lower threshold catches half of them.
    rows += [_row(200 + i, True, False, 0.3 if i % 2 == 0 else 0.1) for i in range(20)]
    rows += [_row(300 + i, False, False, 0.001) for i in range(200)]
    j = {("real_person", str(i)): "1" for i in range(10)}
    j |= {("real_person", str(100 + i)): "1" if i < 6 else "0" for i in range(8)}
    j |= {("real_person", str(200 + i)): "0" if i < 5 else "1" for i in range(10)}
    j |= {("real_person", str(300 + i)): "0" for i in range(20)}
    high, low = at_thresholds(rows, j, "real_person", "as-is", [0.5, 0.2])
    # At the predictions' own operating point it agrees with estimate().
    det = estimate(rows, j, "real_person", "as-is").detector
    assert (high.audited.tp, high.audited.fp, high.audited.fn) == pytest.approx(
        (det.tp, det.fp, det.fn)
    )
    assert high.gold == pytest.approx((100 / 120, 100 / 120, 100 / 120))
    assert high.fired == 120
    # At 0.2, each judged miss stands for two: real ones at 0.3 (ids 206, 208) are
    # found, the others at 0.3 (200, 202, 204) are false alarms, 205/207/209 still missed.
    tp, fp, fn = 100 + 15 + 2 * 2, 5 + 2 * 3, 2 * 3
    assert (low.audited.tp, low.audited.fp, low.audited.fn) == pytest.approx((tp, fp, fn))
    assert low.gold[2] == pytest.approx(2 * 110 / (2 * 110 + 20 + 10))
    assert low.fired == 130
    assert low.audited.f1_low <= low.audited.f1 <= low.audited.f1_high
    assert "0.20    130" in thresholds_text("real_person", "as-is", [high, low])
    # Another condition's detector, weighed by the strata the sample was drawn from:
    # a disguised detector that fires on every gold positive (misses included).
    with pytest.raises(UsageError, match="340 listings of the as-is strata have no disguised"):
        at_thresholds(rows, j, "real_person", "disguised", [0.5], design="as-is")
    outcomes = [(i, True, True) for i in range(100)] + [(100 + i, False, True) for i in range(20)]
    outcomes += [(200 + i, True, False) for i in range(20)]
    outcomes += [(300 + i, False, False) for i in range(200)]
    rows += [
        {**_row(i, gold, gold or fired, 0.9 if gold or fired else 0.001), "condition": "disguised"}
        for i, gold, fired in outcomes
    ]
    (dis,) = at_thresholds(rows, j, "real_person", "disguised", [0.5], design="as-is")
    tp, fp, fn = 100 + 15 + 10, 5 + 10, 0
    assert (dis.audited.tp, dis.audited.fp, dis.audited.fn) == pytest.approx((tp, fp, fn))
    assert dis.fired == 140


def test_audit_file_errors_say_what_to_fix(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text("# ids only\nlabel,id,judgement\nreal_person,7,1\nsexual,7,?\n")
    assert read_judgements(f) == {("real_person", "7"): "1", ("sexual", "7"): "?"}
    f.write_text("label,id,judgement\nreal_person,7,yes\n")
    with pytest.raises(UsageError, match=r"a.csv:2: judgement 'yes' is not 1, 0 or \?"):
        read_judgements(f)
    f.write_text("id,verdict\n7,1\n")
    with pytest.raises(UsageError, match="expected a CSV header"):
        read_judgements(f)
    with pytest.raises(UsageError, match="couldn't read audit file"):
        read_judgements(tmp_path / "missing.csv")


def test_the_shipped_audit_file_parses() -> None:
    shipped = Path(__file__).resolve().parents[2] / "docs/eval/label-audit.csv"
    j = read_judgements(shipped)
    assert {label for label, _ in j} <= {"real_person", "sexual"}
    assert len(j) >= 200


def test_label_audit_script_samples_and_estimates(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "scripts/label_audit.py"
    rows = [_row(i, i < 10, i < 12, 0.9 if i < 12 else 0.001) for i in range(40)]
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps(r) + "\n" for r in rows))
    listings = tmp_path / "l.jsonl"
    listings.write_text(
        "".join(json.dumps({"id": i, "name": f"Listing {i}"}) + "\n" for i in range(40))
    )
    audit = tmp_path / "audit.csv"
    audit.write_text("label,id,judgement\nreal_person,0,1\nreal_person,10,0\n")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), *args], capture_output=True, text=True, check=False
        )

    r = run("sample", str(pred), str(listings), "--label", "real_person", "--audit", str(audit))
    assert r.returncode == 0, r.stderr
    assert "## real_person tp: 10 listings, 1 judged" in r.stdout
    assert "Listing 0 |" not in r.stdout and "Listing 1 |" in r.stdout
    r = run("estimate", str(pred), str(audit), "--label", "real_person")
    assert r.returncode == 2 and "no decided judgement in stratum tn>=0" in r.stderr
    audit.write_text(audit.read_text() + "real_person,20,0\n")
    r = run("estimate", str(pred), str(audit), "--label", "real_person")
    assert r.returncode == 0 and "TP 10, FP 2, FN 0" in r.stdout and "F1 0.909" in r.stdout
    assert "(ceiling): TP 10, FP 0, FN 0" in r.stdout
    r = run("thresholds", str(pred), str(audit), "--label", "real_person", "--thresholds", "0.5")
    assert r.returncode == 0 and "0.50     12   0.833  1.000  0.909" in r.stdout, r.stdout
    r = run("thresholds", str(pred), str(audit), "--label", "real_person", "--thresholds", "0.5,x")
    assert r.returncode == 2 and "comma-separated scores between 0 and 1" in r.stderr
