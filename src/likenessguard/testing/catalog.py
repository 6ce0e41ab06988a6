"""Synthetic catalogs: artifact rows with realistic scan records, for the review app.

The web app, its browser tests and its benchmark need a catalog long before a
real scan of a real hub fills one, and at sizes (100,000 rows) no fixture hub
reaches quickly. Rows carry the full ScanRecord JSON shape (docs/records.md):
verdict labels with cited evidence, bank matches, training-tag frequencies.

Names: sexual and minor-risk records only ever use fictional names ("Jane Roe",
"Mary Major", ...); a real public figure appears only in non-sexual records.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from likenessguard.store.models.core import ArtifactRow
from likenessguard.verdicts.base import Severity

FICTIONAL_NAMES: tuple[str, ...] = (
    "Jane Roe",
    "Mary Major",
    "John Doe",
    "Richard Roe",
    "Janie Doe",
    "Mary Moe",
    "Alex Doe",
    "Jane Smithee",
)
# Non-sexual fixtures only.
PUBLIC_FIGURES: tuple[str, ...] = ("Ada Lovelace", "Alan Turing", "Grace Hopper")
HUBS: tuple[str, ...] = ("huggingface", "civitai", "local")
FAMILIES: tuple[str, ...] = ("sd1", "sdxl", "flux1", "sd3", "sd2")
START = datetime(2026, 1, 1, tzinfo=UTC)


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _evidence(
    source: str, field: str, text: str, signal: str, count: int = 1
) -> dict[str, str | int]:
    return {"source": source, "field": field, "text": text, "signal": signal, "count": count}


def make_record(
    *,
    path: str,
    uri: str,
    hub: str,
    repo: str | None,
    revision: str | None,
    url: str | None,
    size: int,
    hashes: Mapping[str, str | None],
    severity: Severity,
    subject: str | None,
    labels: Mapping[str, float],
    base_family: str,
    matches: Sequence[Mapping[str, Any]] = (),
    tags: Mapping[str, int] | None = None,
    fingerprint: str | None = None,
) -> dict[str, Any]:
    """A ScanRecord JSON dict (the shape of ``ScanRecord.to_json()``).

    ``labels`` maps label name -> score; labels scoring >= 0.5 fire and cite
    evidence naming ``subject`` (or generic tags).
    """
    tags = dict(tags or {})
    slug = (subject or "style").lower().replace(" ", "_")
    verdict_labels: dict[str, Any] = {}
    for label, score in labels.items():
        fired = score >= 0.5
        ev: list[dict[str, str | int]] = []
        if label == "real_person" and subject:
            ev = [
                _evidence("file-name", "name", Path(path).name, "name"),
                _evidence("safetensors-metadata", "ss_tag_frequency", slug, "trigger", 40),
            ]
        elif label == "sexual":
            ev = [_evidence("safetensors-metadata", "ss_tag_frequency", "nsfw", "tag", 31)]
        elif label == "minor_risk":
            ev = [_evidence("safetensors-metadata", "ss_tag_frequency", "schoolgirl", "tag", 12)]
        verdict_labels[label] = {"score": round(score, 4), "fired": fired, "evidence": ev}
    return {
        "path": path,
        "size": size,
        "format": "safetensors",
        "kind": "lora",
        "base_family": base_family,
        "key_scheme": "kohya",
        "rank": 16,
        "alpha": 8.0,
        "modules": 264,
        "dtype": "F16",
        "identity_reasons": [
            "264 lora_up/lora_down pairs with kohya key names",
            f"text encoder and UNet shapes match {base_family}",
        ],
        "member": None,
        "location": {"uri": uri, "hub": hub, "repo": repo, "revision": revision, "url": url},
        "hashes": dict(hashes),
        "metadata": {
            "ss_output_name": Path(path).stem,
            "ss_tag_frequency": {f"10_{slug}": tags} if tags else {},
        },
        "verdict": {"severity": severity.label, "labels": verdict_labels, "subject": subject},
        "matches": [dict(m) for m in matches],
        "fingerprint": fingerprint,
        "findings": [],
        "warnings": [],
        "errors": [],
    }


def fingerprint_text(seed: int, modules: int = 264) -> str:
    """A well-formed weight fingerprint (``lgfp1:...``) of a random unit vector."""
    import numpy as np

    from likenessguard.hashing.fingerprint import Fingerprint

    vec = np.random.default_rng(seed).standard_normal(256).astype("float32")
    return Fingerprint("adapter", modules, vec / np.linalg.norm(vec)).to_text()


def _row(i: int, rng: random.Random, root: str) -> dict[str, Any]:
    kind = rng.random()
    subject: str | None = None
    labels: dict[str, float] = {}
    tags = {"1girl": rng.randint(5, 80), "solo": rng.randint(5, 80), "looking at viewer": 12}
    if kind < 0.02:
        subject = rng.choice(FICTIONAL_NAMES)
        labels = {"real_person": 0.9, "sexual": 0.85, "minor_risk": 0.7}
        severity = Severity.CRITICAL
        tags.update({"nsfw": 31, "schoolgirl": 12})
    elif kind < 0.25:
        subject = rng.choice(FICTIONAL_NAMES)
        labels = {"real_person": rng.uniform(0.6, 1.0), "sexual": rng.uniform(0.55, 1.0)}
        severity = Severity.HIGH
        tags["nsfw"] = rng.randint(10, 60)
    elif kind < 0.7:
        subject = rng.choice(FICTIONAL_NAMES + PUBLIC_FIGURES)
        labels = {"real_person": rng.uniform(0.5, 1.0), "sexual": rng.uniform(0.0, 0.3)}
        severity = Severity.MEDIUM
    elif kind < 0.85:
        labels = {"sexual": rng.uniform(0.5, 0.9)}
        severity = Severity.LOW
    else:
        severity = Severity.NONE
    hub = rng.choice(HUBS)
    family = rng.choice(FAMILIES)
    slug = (subject or f"style{i}").lower().replace(" ", "_")
    name = f"{slug}_v{i % 7 + 1}_{i}.safetensors"
    revision = _hex(rng, 40) if hub == "huggingface" else None
    repo = f"user{i % 997}/{slug}-lora" if hub != "local" else None
    if hub == "huggingface":
        uri = f"hf://{repo}@{revision}/{name}"
        url = f"https://huggingface.co/{repo}/blob/{revision}/{name}"
    elif hub == "civitai":
        uri = f"civitai://model/{100000 + i}/version/{200000 + i}/{name}"
        url = f"https://civitai.com/models/{100000 + i}"
    else:
        uri = f"file://{root}/{name}"
        url = None
    sha = hashlib.sha256(f"{i}".encode()).hexdigest()
    hashes = {
        "sha256": sha,
        "autov1": sha[:8],
        "autov2": sha[:10],
        "autov3": hashlib.sha256(f"t{i}".encode()).hexdigest(),
        "blake3": hashlib.sha256(f"b{i}".encode()).hexdigest(),
        "crc32": sha[-8:].upper(),
    }
    matches: list[dict[str, Any]] = []
    if rng.random() < 0.05:
        matches.append(
            {
                "bank": "ncii-shared",
                "entry": {"id": f"e{i}", "name": name, "reason": "banned-copy"},
                "method": rng.choice(("sha256", "autov3", "fingerprint")),
                "similarity": 1.0,
            }
        )
    size = rng.randint(9_000_000, 220_000_000)
    record = make_record(
        path=f"{root}/{name}",
        uri=uri,
        hub=hub,
        repo=repo,
        revision=revision,
        url=url,
        size=size,
        hashes=hashes,
        severity=severity,
        subject=subject,
        labels=labels,
        base_family=family,
        matches=matches,
        tags=tags,
        fingerprint=fingerprint_text(rng.randrange(2**32)),
    )
    verdict = record["verdict"]["labels"]
    score = max((v["score"] for v in verdict.values() if v["fired"]), default=0.0)
    seen = START + timedelta(minutes=i * 3 + rng.randint(0, 2))
    return {
        "uri": uri,
        "path": f"{root}/{name}",
        "hub": hub,
        "repo": repo,
        "revision": revision,
        "url": url,
        "size": size,
        "mtime_ns": None,
        "inode": None,
        "format": "safetensors",
        "kind": "lora",
        "base_family": family,
        "key_scheme": "kohya",
        **hashes,
        "severity": int(severity),
        "score": score,
        "subject": subject,
        "error_count": 0,
        "record": record,
        "first_seen": seen,
        "last_scanned": seen,
    }


def make_catalog(
    engine: Engine, n: int, seed: int = 0, *, root: str = "/catalog", batch: int = 5000
) -> int:
    """Insert ``n`` synthetic artifact rows (deterministic for a ``seed``).

    About 2% critical, 23% high, 45% medium, 15% low, 15% none; 5% carry a
    bank match. Returns the number of rows inserted.
    """
    rng = random.Random(seed)
    done = 0
    while done < n:
        rows = [_row(i, rng, root) for i in range(done, min(n, done + batch))]
        with engine.begin() as conn:
            conn.execute(insert(ArtifactRow), rows)
        done += len(rows)
    return done


def add_artifact(engine: Engine, **overrides: Any) -> int:
    """Insert one artifact (a high-severity LoRA of "Jane Roe" unless overridden).

    ``record`` may be given whole; otherwise one is built from the other fields.
    Returns the new artifact id.
    """
    rng = random.Random(json.dumps(overrides, sort_keys=True, default=str))
    row = _row(rng.randint(0, 10**6), rng, overrides.pop("root", "/catalog"))
    subject = overrides.get("subject", "Jane Roe")
    severity = Severity(overrides.get("severity", Severity.HIGH))
    labels = overrides.pop(
        "labels",
        {"real_person": 0.92, "sexual": 0.81}
        if severity >= Severity.HIGH
        else {"real_person": 0.7},
    )
    matches = overrides.pop("matches", ())
    row.update(overrides)
    row["severity"] = int(severity)
    row["subject"] = subject
    if "record" not in overrides:
        row["record"] = make_record(
            path=row["path"],
            uri=row["uri"],
            hub=row["hub"],
            repo=row["repo"],
            revision=row["revision"],
            url=row["url"],
            size=row["size"],
            hashes={k: row[k] for k in ("sha256", "autov1", "autov2", "autov3", "blake3", "crc32")},
            severity=severity,
            subject=subject,
            labels=labels,
            base_family=row["base_family"],
            matches=matches,
            tags={"1girl": 20, (subject or "style").lower().replace(" ", "_"): 40},
            fingerprint=fingerprint_text(rng.randrange(2**32)),
        )
        row["score"] = max((s for s in labels.values() if s >= 0.5), default=0.0)
    with engine.begin() as conn:
        return int(
            conn.execute(insert(ArtifactRow).values(**row).returning(ArtifactRow.id)).scalar_one()
        )


def draw_preview(path: Path, *, seed: int = 0, size: tuple[int, int] = (256, 320)) -> Path:
    """Draw an abstract preview image (shapes only) with Pillow, a dev dependency."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    img = Image.new("RGB", size, (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255)))
    draw = ImageDraw.Draw(img)
    for _ in range(8):
        x0, y0 = rng.randint(0, size[0] - 20), rng.randint(0, size[1] - 20)
        x1, y1 = x0 + rng.randint(10, 120), y0 + rng.randint(10, 120)
        colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
