"""Train the shipped text models from labelled Civitai listings.

Usage:
    python scripts/train_text_model.py /path/to/civitai-2023-07-dev.jsonl

Writes src/likenessguard/verdicts/data/text_models.npz (four stacked models,
real_person / sexual x full / disguised: hashed-feature logistic regressions
over all features and per field group, combined by a logistic stacker fitted on
their inner-3-fold out-of-fold logits, its threshold chosen by inner 3-fold
cross-validation; see likenessguard.verdicts.training) and records in it a
few fixed feature vectors with the scores they get, so a test can prove the
shipped file loads offline and scores exactly as at training time. Needs
scikit-learn (dev dependency); the package itself only needs numpy.
Honest quality numbers come from `likenessguard eval FILE --cv 5`, which
retrains inside every fold; see docs/evaluation.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
from pathlib import Path

from likenessguard.evidence.base import Evidence
from likenessguard.verdicts.evaluate import read_listings
from likenessguard.verdicts.features import FEATURE_VERSION, featurize_groups
from likenessguard.verdicts.model import TextModels
from likenessguard.verdicts.training import prepare, train_models

OUT = Path(__file__).resolve().parents[1] / "src/likenessguard/verdicts/data/text_models.npz"

# Fixed, synthetic evidence (fictional names) scored at training time and again by the tests.
PROBES: list[list[Evidence]] = [
    [
        Evidence("listing", "name", "Jane Roe - realistic LoRA", "title"),
        Evidence("listing", "tags", "celebrity", "tag"),
    ],
    [
        Evidence("listing", "name", "Watercolor landscape style", "title"),
        Evidence("listing", "tags", "style", "tag"),
    ],
    [Evidence("listing", "images.prompt", "photo of a woman, nude, on bed", "prompt")],
    [
        Evidence("listing", "trainedWords", "mary major", "trigger"),
        Evidence("listing", "files.name", "maryMajor_v1.safetensors", "name"),
    ],
]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/train_text_model.py /path/to/civitai-2023-07-dev.jsonl")
    src = Path(sys.argv[1])
    records, errors = read_listings(src)
    for e in errors:
        print(e, file=sys.stderr)
    print(f"featurizing {len(records)} records", file=sys.stderr)
    prep = prepare(records)
    print("training (inner 3-fold CV: base logits for the stacker, its threshold)", file=sys.stderr)
    models = train_models(prep)
    probes = []
    for ev in PROBES:
        groups = {name: list(ids) for name, ids in featurize_groups(ev).items()}
        probes.append({"ids": groups, "scores": {}})
    meta = {
        "trained_on": src.name,
        "trained_sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
        "trained_records": len(records),
        "trained_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
        "feature_version": FEATURE_VERSION,
        "script": "scripts/train_text_model.py",
    }
    tm = TextModels(models.models, meta)
    tm.save(OUT)
    # Score the probes with the file as shipped (float16 weights), then store them in it.
    shipped = TextModels.load(OUT)
    for p in probes:
        for (label, cond), m in shipped.models.items():
            p["scores"][f"{label}.{cond}"] = m.score(p["ids"])
    TextModels(shipped.models, {**meta, "probes": probes}).save(OUT)
    for (label, cond), m in shipped.models.items():
        print(f"{label}.{cond}: {dict(m.meta)}", file=sys.stderr)
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB)", file=sys.stderr)


if __name__ == "__main__":
    main()
