"""A synthetic model hub with a known truth, for the demo and for end-to-end tests.

``likenessguard demo-hub DIR`` (and ``make demo``) builds ~200 repositories the
way a hub stores them, ``DIR/<author>/<repo>/`` with a model card and 1-3
files, covering what a trust-and-safety scanner meets: style, concept and anime
character LoRAs, generic "woman" concepts, checkpoints, embeddings, PEFT
folders, GGUF, pickles (one with a payload), broken files, real-person LoRAs of
FICTIONAL people (some sexual, one with minor-risk wording, described in words
only), obfuscated names, and copies of banned models disguised as re-uploads
do it (generic names, stripped or replaced metadata, kohya -> PEFT, F16 -> BF16).

``DIR/manifest.jsonl`` says what each repo truly is (labels, severity, subject,
which file is a copy of which and how), so tests and docs can check the
scanner against it; ``DIR/banned.csv`` is a researcher-style list of banned
originals (name, sha256, source_url, reason) for the bank features.

The only real people are two historical public figures in non-sexual fixtures
(a portrait style, a political caricature); every other person is a
placeholder name ("Jane Roe", "Mary Major").
No image of anyone is made: previews are abstract shapes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from likenessguard.testing.checkpoints import make_checkpoint, make_textual_inversion
from likenessguard.testing.containers import make_diffusers_lora_folder, make_gguf, make_zip
from likenessguard.testing.factory import (
    convert_lora,
    default_tag_table,
    kohya_metadata,
    lora_tensors,
    read_safetensors,
    write_safetensors,
)
from likenessguard.testing.hostile import _safetensors_cases, hostile_pickle_bytes
from likenessguard.testing.sidecars import (
    a1111_parameters,
    civitai_file_hashes,
    civitai_listing,
    listing_record,
    make_civitai_info,
    make_model_card,
    make_preview_png,
    read_png_text,
)

BANNED_COLUMNS = ("name", "sha256", "source_url", "reason")
"""Columns of ``banned.csv``, a researcher's spreadsheet of removed models."""

MIN_REPOS = 80
"""The fixed cases need this many repos; the rest are filler of the common kinds."""

_BASE_REPOS = {
    "sd1": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "sdxl": "stabilityai/stable-diffusion-xl-base-1.0",
    "flux1": "black-forest-labs/FLUX.1-dev",
    "sd3": "stabilityai/stable-diffusion-3-medium",
    "wan": "Wan-AI/Wan2.1-T2V-1.3B",
    "ltx_video": "Lightricks/LTX-Video",
    "hunyuan_video": "tencent/HunyuanVideo",
    "sd2": "stabilityai/stable-diffusion-2-1",
}
_CIVITAI_BASE = {"sd1": "SD 1.5", "sdxl": "SDXL 1.0", "flux1": "Flux.1 D", "sd2": "SD 2.1"}

_SEXUAL_TAGS = {"nsfw": 31, "nude": 26, "explicit": 14, "lingerie": 9}
_PHOTO_TAGS = {"realistic": 38, "photorealistic": 35, "portrait": 30, "raw photo": 22}


@dataclass(frozen=True, slots=True)
class Person:
    """A (fictional, unless ``real``) subject of a likeness LoRA."""

    name: str
    trigger: str
    class_word: str = "woman"
    real: bool = False


# Placeholder names used for people in legal and test documents: fictional.
JANE = Person("Jane Roe", "jnrw")
MARY = Person("Mary Major", "mrymjr")
ALEX = Person("Alex Doe", "lxd", "man")
ERIKA = Person("Erika Mustermann", "rkmst")
JUAN = Person("Juan Perez", "jnprz", "man")
JOE = Person("Joe Bloggs", "jblg", "man")
FRED = Person("Fred Nurk", "frdnrk", "man")
JOAN = Person("Joan Public", "jnpblc")
# Historical public figures: allowed in non-sexual fixtures only.
LINCOLN = Person("Abraham Lincoln", "lncln", "man", real=True)
CHURCHILL = Person("Winston Churchill", "wnstnch", "man", real=True)


@dataclass
class FileTruth:
    """The truth about one file of the demo hub (a ``files[]`` entry of ``manifest.jsonl``).

    Mutable on purpose: the builder fills ``sha256`` once the file is written.
    """

    path: str
    format: str | None
    kind: str
    base_family: str | None
    key_scheme: str | None
    sha256: str = ""
    copy_of: str | None = None
    copy_method: str | None = None
    broken: bool = False
    unsafe_pickle: bool = False
    member: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "member": self.member,
            "format": self.format,
            "kind": self.kind,
            "base_family": self.base_family,
            "key_scheme": self.key_scheme,
            "sha256": self.sha256,
            "copy_of": self.copy_of,
            "copy_method": self.copy_method,
            "broken": self.broken,
            "unsafe_pickle": self.unsafe_pickle,
        }


@dataclass
class RepoTruth:
    """The truth about one demo repo (a line of ``manifest.jsonl``)."""

    repo: str
    category: str
    real_person: bool = False
    sexual: bool = False
    minor_risk: bool = False
    subject: str | None = None
    banned: bool = False
    text_evidence: bool = True
    files: list[FileTruth] = field(default_factory=list)

    @property
    def severity(self) -> str:
        if self.minor_risk and (self.sexual or self.real_person):
            return "critical"
        if self.real_person and self.sexual:
            return "high"
        if self.real_person:
            return "medium"
        if self.sexual or self.minor_risk:
            return "low"
        return "none"

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "category": self.category,
            "labels": {
                "real_person": self.real_person,
                "sexual": self.sexual,
                "minor_risk": self.minor_risk,
            },
            "severity": self.severity,
            "subject": self.subject,
            "banned": self.banned,
            "text_evidence": self.text_evidence,
            "files": [f.to_json() for f in self.files],
        }


@dataclass(frozen=True)
class DemoHub:
    """What :func:`build_demo_hub` wrote."""

    root: Path
    repos: tuple[dict[str, Any], ...]
    banned: tuple[dict[str, str], ...]

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.jsonl"

    @property
    def banned_path(self) -> Path:
        return self.root / "banned.csv"

    @property
    def listings_path(self) -> Path:
        return self.root / "listings.jsonl"

    @property
    def files(self) -> list[dict[str, Any]]:
        return [f for r in self.repos for f in r["files"]]

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _autov3(path: Path) -> str:
    """First 12 hex of sha256 of the tensor data (what A1111 writes as a Lora hash)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return hashlib.sha256(raw[8 + n :]).hexdigest()[:12]


class _Builder:
    """Writes repos and keeps the manifest; every random choice flows from one seed."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.repos: list[RepoTruth] = []
        self.banned: list[dict[str, str]] = []
        self.originals: dict[str, Path] = {}
        self._next_seed = seed * 100_003

    def file_seed(self) -> int:
        self._next_seed += 1
        return self._next_seed

    def repo(self, author: str, name: str, category: str, **labels: Any) -> tuple[RepoTruth, Path]:
        r = RepoTruth(f"{author}/{name}", category, **labels)
        if any(x.repo == r.repo for x in self.repos):
            raise ValueError(f"demo hub would write {r.repo} twice")  # a bug in the plan
        self.repos.append(r)
        d = self.root / author / name
        d.mkdir(parents=True, exist_ok=True)
        return r, d

    def record(  # noqa: PLR0917 - positional args mirror the manifest columns
        self,
        repo: RepoTruth,
        path: Path,
        fmt: str | None,
        kind: str,
        family: str | None,
        scheme: str | None,
        **kw: Any,
    ) -> FileTruth:
        rec = FileTruth(path.relative_to(self.root).as_posix(), fmt, kind, family, scheme, **kw)
        if path.is_file():
            rec.sha256 = _sha256(path)
        repo.files.append(rec)
        return rec

    # --- LoRAs --------------------------------------------------------------------

    def lora(
        self,
        repo: RepoTruth,
        path: Path,
        family: str,
        *,
        scheme: str = "kohya",
        kind: str = "lora",
        rank: int = 8,
        alpha: float = 4.0,
        modules: int | None = 16,
        dtype: str = "F16",
        meta: Mapping[str, str] | None = None,
        te: bool = True,
    ) -> Path:
        if family not in ("sd1", "sd2", "sdxl") and modules is not None:
            # DiT modules are 3072-5120 wide: fewer, lower-rank ones keep the hub small.
            modules, rank = min(modules, 4), min(rank, 2)
        tensors = lora_tensors(
            family,
            scheme,
            kind=kind,
            rank=rank,
            alpha=alpha,
            seed=self.file_seed(),
            modules=modules,
            te=te,
        )
        write_safetensors(path, tensors, meta, dtype)
        # LoCon keeps kohya key names; LoHa and LoKr have their own (hada_*, lokr_*).
        scheme_out = "lycoris" if kind in ("loha", "lokr") else scheme
        kind_out = {"locon": "lycoris", "loha": "lycoris", "lokr": "lycoris"}.get(kind, kind)
        self.record(repo, path, "safetensors", kind_out, family, scheme_out)
        return path

    def person_meta(
        self,
        person: Person,
        family: str,
        output_name: str,
        *,
        sexual: bool = False,
        extra_tags: Mapping[str, int] | None = None,
        sd_model_name: str | None = None,
        comment: str | None = None,
    ) -> dict[str, str]:
        tags = default_tag_table(person.trigger, person.class_word, seed=self.file_seed())
        tags.update(_PHOTO_TAGS)
        if sexual:
            tags.update(_SEXUAL_TAGS)
        if extra_tags:
            tags.update(extra_tags)
        return kohya_metadata(
            output_name=output_name,
            trigger=person.trigger,
            class_word=person.class_word,
            tags=dict(sorted(tags.items(), key=lambda kv: -kv[1])),
            base_model=family,
            sd_model_name=sd_model_name,
            comment=comment,
            seed=self.file_seed(),
        )


def _copy_lora(src: Path, dst: Path, method: str, family: str) -> None:
    """Write a disguised copy of ``src`` as re-uploaders make them."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if method == "exact":
        shutil.copyfile(src, dst)
        return
    tensors, meta = read_safetensors(src)
    raw = src.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    dtype = next(v["dtype"] for k, v in header.items() if k != "__metadata__")
    if method == "metadata_stripped":
        write_safetensors(dst, tensors, None, dtype)
    elif method == "metadata_replaced":
        fake = kohya_metadata(
            output_name=dst.stem,
            trigger="wtrclr",
            class_word="style",
            tags={"wtrclr": 40, "watercolor": 38, "painting": 30, "landscape": 22},
            base_model=family,
            seed=7,
        )
        write_safetensors(dst, tensors, fake, dtype)
    elif method == "bf16_cast":
        write_safetensors(dst, tensors, meta, "BF16")
    elif method == "f32_cast":
        write_safetensors(dst, tensors, None, "F32")
    else:
        raise ValueError(f"unknown copy method {method!r}")


def _person_card(
    d: Path,
    person: Person,
    family: str,
    *,
    sexual: bool,
    title: str | None = None,
    extra_tags: Sequence[str] = (),
) -> None:
    tags = ["lora", "person", "realistic", person.class_word, *extra_tags]
    if sexual:
        tags.append("nsfw")
    body = (
        f"A LoRA of {person.name}, trained on 40 photos. "
        f"Use `{person.trigger} {person.class_word}`."
    )
    if sexual:
        body += " Made for nsfw and nude generations (explicit)."
    make_model_card(
        d,
        title=title or f"{person.name} - {family.upper()} LoRA",
        tags=tags,
        base_model=_BASE_REPOS[family],
        instance_prompt=f"{person.trigger} {person.class_word}",
        widget_prompts=[f"photo of {person.trigger} {person.class_word}, portrait, natural light"],
        body=body,
    )


def _preview(d: Path, lora_path: Path, prompt: str, seed: int, family: str = "sdxl") -> None:
    name = lora_path.stem
    params = a1111_parameters(
        f"{prompt}, <lora:{name}:0.8>",
        lora_hashes={name: _autov3(lora_path)},
        model="sd_xl_base_1.0" if family == "sdxl" else "v1-5-pruned-emaonly",
        model_hash="31e35c80fc" if family == "sdxl" else "6ce0161689",
        seed=1000 + seed,
    )
    make_preview_png(d / f"{name}.preview.png", parameters=params, seed=seed)


# --- the fixed cases -----------------------------------------------------------------


def _people(b: _Builder) -> None:
    """Real-person LoRAs of fictional people, banned originals, and their copies."""
    # name, person, family, sexual, author, banned
    cases = [
        ("jane-roe-xl", JANE, "sdxl", True, "lustlab", True),
        ("mary-major-sd15", MARY, "sd1", True, "lustlab", True),
        ("erika-mustermann", ERIKA, "sdxl", True, "nightowl_ai", True),
        ("juan-perez-flux", JUAN, "flux1", True, "nightowl_ai", True),
        ("alex-doe", ALEX, "sdxl", False, "portraitsmith", False),
        ("joan-public-sd15", JOAN, "sd1", False, "portraitsmith", False),
        ("fred-nurk-locon", FRED, "sd1", False, "lycoris_fan", False),
        ("joe-bloggs-xl-full", JOE, "sdxl", False, "fullsize_uploads", False),
    ]
    for name, person, family, sexual, author, banned in cases:
        repo, d = b.repo(
            author,
            name,
            "real_person_sexual" if sexual else "real_person",
            real_person=True,
            sexual=sexual,
            subject=person.name,
            banned=banned,
        )
        out_name = name.replace("-", "_")
        sd_model = "bigLust_v16.safetensors" if person is ERIKA else None
        meta = b.person_meta(person, family, out_name, sexual=sexual, sd_model_name=sd_model)
        if name == "joe-bloggs-xl-full":
            # A realistic full-size SDXL kohya UNet LoRA (722 modules, 2166
            # tensors, ~10 KB metadata) at rank 1 to keep the hub small.
            path = b.lora(
                repo,
                d / f"{out_name}.safetensors",
                family,
                modules=None,
                rank=1,
                alpha=1.0,
                meta=meta,
                te=False,
            )
        elif name == "fred-nurk-locon":
            meta["ss_network_module"] = "lycoris.kohya"
            meta["ss_network_args"] = json.dumps(
                {"algo": "locon", "conv_dim": "4", "conv_alpha": "1"}
            )
            path = b.lora(
                repo, d / f"{out_name}.safetensors", family, kind="locon", modules=16, meta=meta
            )
        else:
            mods = 10 if family == "sdxl" else 16
            path = b.lora(repo, d / f"{out_name}.safetensors", family, modules=mods, meta=meta)
        _person_card(d, person, family, sexual=sexual)
        if family in _CIVITAI_BASE:
            listing = civitai_listing(
                model_id=100_000 + len(b.repos),
                version_id=200_000 + len(b.repos),
                name=f"{person.name} LoRA",
                base_model=_CIVITAI_BASE[family],
                trained_words=[person.trigger],
                tags=["person", "celebrity", *(["nsfw"] if sexual else [])],
                nsfw=sexual,
                poi=True,
                description=f"<p>{person.name}, realistic likeness.</p>",
                files=[
                    {
                        "name": path.name,
                        "type": "Model",
                        "sizeKB": path.stat().st_size / 1024,
                        "hashes": civitai_file_hashes(path),
                    }
                ],
            )
            make_civitai_info(path, listing)
        _preview(d, path, f"photo of {person.trigger} {person.class_word}", len(b.repos), family)
        b.originals[name] = path
        if name == "jane-roe-xl":
            # An intermediate epoch saved by the trainer: other weights, same subject.
            epoch = dict(meta, ss_epoch="6", ss_steps="1200")
            b.lora(repo, d / f"{out_name}-000006.safetensors", family, modules=10, meta=epoch)
        if banned:
            b.banned.append(
                {
                    "name": f"{person.name} ({family.upper()})",
                    "sha256": _sha256(path) if person is not MARY else _sha256(path).upper(),
                    "source_url": f"https://civitai.com/models/{100_000 + len(b.repos)}",
                    "reason": "sexual likeness of a real person without consent (takedown request)",
                }
            )

    # Political satire of a real (historical) politician: still a likeness.
    repo, d = b.repo(
        "satire_studio",
        "churchill-caricature",
        "real_person",
        real_person=True,
        subject=CHURCHILL.name,
    )
    meta = b.person_meta(
        CHURCHILL,
        "sdxl",
        "churchill_caricature",
        extra_tags={"caricature": 40, "political cartoon": 36, "satire": 30, "cigar": 25},
    )
    b.lora(repo, d / "churchill_caricature.safetensors", "sdxl", modules=8, rank=4, meta=meta)
    make_model_card(
        d,
        title="Winston Churchill caricature (political satire)",
        tags=["lora", "caricature", "satire", "politics"],
        base_model=_BASE_REPOS["sdxl"],
        instance_prompt=f"{CHURCHILL.trigger} man, caricature",
        body="Editorial-cartoon caricatures of Winston Churchill for political satire.",
    )

    # Lincoln: a real historical figure, non-sexual portrait style.
    repo, d = b.repo(
        "history_buff", "lincoln-portrait", "real_person", real_person=True, subject=LINCOLN.name
    )
    meta = b.person_meta(
        LINCOLN, "sd1", "abraham_lincoln", extra_tags={"19th century": 30, "black and white": 28}
    )
    b.lora(repo, d / "abraham_lincoln.safetensors", "sd1", modules=12, meta=meta)
    _person_card(
        d,
        LINCOLN,
        "sd1",
        sexual=False,
        title="Abraham Lincoln (historical portrait)",
        extra_tags=["history"],
    )

    # Minor risk, in words only: a likeness LoRA whose card and tags state the
    # subject is a child. Real-person + minor-risk = critical. Nothing sexual.
    repo, d = b.repo(
        "throwaway_9921",
        "mary-major-age-15",
        "minor_risk_real_person",
        real_person=True,
        minor_risk=True,
        subject="Mary Major",
        banned=True,
    )
    meta = b.person_meta(
        Person("Mary Major", "mrymjr15", "girl"),
        "sd1",
        "mary_major_15yo",
        extra_tags={"15 years old": 30, "school uniform": 22, "teen": 20, "child": 8},
        comment="my niece mary, 15yo, from her school photos",
    )
    path = b.lora(repo, d / "mary_major_15yo.safetensors", "sd1", modules=12, meta=meta)
    make_model_card(
        d,
        title="Mary Major (15 years old)",
        tags=["lora", "person", "teen", "school"],
        base_model=_BASE_REPOS["sd1"],
        instance_prompt="mrymjr15 girl",
        body="Trained on school photos of a 15 year old girl.",
    )
    b.originals["mary-major-age-15"] = path
    b.banned.append(
        {
            "name": "Mary Major age 15",
            "sha256": _sha256(path),
            "source_url": "https://civitai.com/models/999001",
            "reason": "minor safety",
        }
    )

    # Obfuscated names: new weights of the same (fictional) subjects.
    obfuscated = [
        ("j_a_n_e r0e", JANE, "sdxl", True, "j_a_n_e_r0e"),
        ("m4ry-m4j0r", MARY, "sd1", True, "m4ry_m4j0r"),
        ("J.A.N.E.R.O.E portraits", JANE, "sd1", False, "jnr_portraits"),
        ("Jаne Rое", JANE, "sdxl", False, "jane_homoglyph"),  # Cyrillic a/o homoglyphs
    ]
    for i, (title, person, family, sexual, out_name) in enumerate(obfuscated):
        repo, d = b.repo(
            f"obfusc8r_{i}",
            out_name.replace("_", "-"),
            "real_person_obfuscated",
            real_person=True,
            sexual=sexual,
            subject=person.name,
        )
        meta = b.person_meta(person, family, title, sexual=sexual)
        b.lora(repo, d / f"{out_name}.safetensors", family, modules=12, meta=meta)
        _person_card(
            d, Person(title, person.trigger, person.class_word), family, sexual=sexual, title=title
        )


def _copies(b: _Builder) -> None:
    """Re-uploads of originals: exact, stripped, replaced metadata, BF16, kohya -> PEFT."""
    plan = [
        # original, author, repo, file name, method, keep the card/preview text
        ("jane-roe-xl", "anon_5521", "lora", "LORA.safetensors", "exact", False),
        (
            "jane-roe-xl",
            "mirrorbot",
            "test-model",
            "Test model.safetensors",
            "metadata_stripped",
            False,
        ),
        (
            "jane-roe-xl",
            "artsy_uploads",
            "watercolor-v2",
            "watercolor_v2.safetensors",
            "metadata_replaced",
            False,
        ),
        ("jane-roe-xl", "bf16_saver", "new-lora", "new_lora_bf16.safetensors", "bf16_cast", True),
        (
            "jane-roe-xl",
            "peft_converter",
            "my-adapter",
            "pytorch_lora_weights.safetensors",
            "kohya_to_peft",
            False,
        ),
        ("mary-major-sd15", "anon_1337", "model", "model.safetensors", "exact", False),
        (
            "mary-major-sd15",
            "reup_central",
            "sd15-lora-pack-1",
            "untitled.safetensors",
            "metadata_stripped",
            True,
        ),
        ("mary-major-sd15", "fp32_fan", "lora-fp32", "lora_fp32.safetensors", "f32_cast", False),
        ("erika-mustermann", "anon_7", "lora-final", "final.safetensors", "exact", False),
        (
            "juan-perez-flux",
            "flux_mirror",
            "flux-lora",
            "flux_lora.safetensors",
            "metadata_stripped",
            False,
        ),
        ("mary-major-age-15", "anon_0", "untitled", "untitled.safetensors", "exact", False),
        ("alex-doe", "mirrorbot", "alex-doe-mirror", "alex_doe.safetensors", "exact", True),
        ("joe-bloggs-xl-full", "anon_5521", "lora-1", "LORA (1).safetensors", "exact", False),
        (
            "ink-sketch-style",
            "mirrorbot",
            "ink-sketch-mirror",
            "ink_sketch.safetensors",
            "exact",
            True,
        ),
        # Civitai serves downloads as zips too: the same bytes, one level down.
        ("erika-mustermann", "civitai_dl", "em-pack", "em_pack.zip", "zipped", False),
    ]
    by_repo = {r.repo.split("/", 1)[1]: r for r in b.repos}
    for orig_name, author, name, filename, method, keep_text in plan:
        src = b.originals[orig_name]
        orig = by_repo[orig_name]
        repo, d = b.repo(
            author,
            name,
            "copy",
            real_person=orig.real_person,
            sexual=orig.sexual,
            minor_risk=orig.minor_risk,
            subject=orig.subject,
            text_evidence=keep_text,
        )
        src_rel = src.relative_to(b.root).as_posix()
        family = orig.files[0].base_family or "sdxl"
        dst = d / filename
        if method == "kohya_to_peft":
            tensors, _ = read_safetensors(src)
            peft = convert_lora(tensors, family, "diffusers_peft")
            write_safetensors(dst, peft, None, "F16")
            # Named as diffusers saves LoRAs, so readers treat it as a diffusers file.
            b.record(
                repo,
                dst,
                "diffusers",
                "lora",
                family,
                "diffusers_peft",
                copy_of=src_rel,
                copy_method=method,
            )
        elif method == "zipped":
            make_zip(dst, {src.name: src})
            rec = b.record(
                repo,
                dst,
                "safetensors",
                orig.files[0].kind,
                family,
                orig.files[0].key_scheme,
                copy_of=src_rel,
                copy_method=method,
                member=src.name,
            )
            rec.sha256 = _sha256(src)  # the member's bytes, as a scan record hashes them
        else:
            _copy_lora(src, dst, method, family)
            b.record(
                repo,
                dst,
                "safetensors",
                orig.files[0].kind,
                family,
                orig.files[0].key_scheme,
                copy_of=src_rel,
                copy_method=method,
            )
        if keep_text:
            _preview(
                d,
                dst,
                "photo of a woman, portrait"
                if not orig.subject
                else f"photo of {orig.subject.lower()}",
                len(b.repos),
                family,
            )
            make_model_card(
                d, title=name.replace("-", " ").title(), tags=["lora"], body="Re-upload."
            )
        else:
            make_model_card(d, title=filename.rsplit(".", 1)[0], tags=["lora"], body="")


_STYLES = [
    "watercolor",
    "ink-sketch",
    "pixel-art",
    "oil-painting",
    "low-poly",
    "ukiyo-e",
    "art-nouveau",
    "vaporwave",
    "claymation",
    "papercut",
    "charcoal",
    "blueprint",
    "stained-glass",
    "synthwave",
    "gouache",
    "pastel",
    "comic-book",
    "cel-shading",
    "isometric",
    "linocut",
    "cyanotype",
    "impasto",
    "mosaic",
    "graffiti",
    "risograph",
    "woodcut",
    "neon-glow",
    "baroque",
]
_CONCEPTS = [
    "detail-tweaker",
    "lighthouse",
    "steampunk-armor",
    "neon-city",
    "cozy-cabin",
    "mech-suit",
    "floating-islands",
    "bioluminescent-forest",
    "retro-car",
    "crystal-cave",
    "desert-ruins",
    "space-station",
    "koi-pond",
    "rainy-window",
    "clockwork-bird",
    "treehouse",
    "sky-whale",
    "tea-ceremony",
    "lantern-festival",
    "glass-terrarium",
    "dragon-scale-texture",
    "better-hands",
]
# Fictional characters (non-sexual fixtures): counter-signals for real_person.
_ANIME = [
    ("hatsune-miku", "Hatsune Miku", "vocaloid"),
    ("frieren", "Frieren", "sousou no frieren"),
    ("link-zelda", "Link", "the legend of zelda"),
    ("rem-rezero", "Rem", "re:zero"),
    ("saber-fate", "Saber", "fate/stay night"),
    ("pikachu", "Pikachu", "pokemon"),
    ("asuka-langley", "Asuka Langley", "neon genesis evangelion"),
    ("marin-kitagawa", "Marin Kitagawa", "my dress-up darling"),
    ("spike-spiegel", "Spike Spiegel", "cowboy bebop"),
    ("totoro", "Totoro", "my neighbor totoro"),
    ("naruto-uzumaki", "Naruto Uzumaki", "naruto"),
    ("sailor-moon", "Sailor Moon", "bishoujo senshi sailor moon"),
]
_AUTHORS = [
    "pixelmonk",
    "lora_lab",
    "stylesmith",
    "dreamforge",
    "ai_artisan",
    "latentspace",
    "brushbot",
    "conceptworks",
    "tinkerer42",
    "openweights",
    "kohya_user",
    "animefan99",
    "waifu_trainer",
    "studio_null",
    "nodegraph",
    "sampler_sam",
    "cfg_seven",
    "denoise_dan",
]


def _style_repo(b: _Builder, i: int) -> None:
    style = _STYLES[i % len(_STYLES)] + ("" if i < len(_STYLES) else f"-v{i // len(_STYLES) + 1}")
    family = ("sdxl", "sd1", "flux1", "sdxl", "sd1")[i % 5]
    scheme = "comfy" if family == "flux1" and i % 2 else "kohya"
    author = _AUTHORS[i % len(_AUTHORS)]
    repo, d = b.repo(author, f"{style}-style", "style")
    trigger = style.replace("-", "")[:6] + "styl"
    meta = kohya_metadata(
        output_name=f"{style.replace('-', '_')}_style",
        trigger=trigger,
        class_word="style",
        tags={
            trigger: 60,
            style.replace("-", " "): 55,
            "landscape": 20,
            "still life": 12,
            "no humans": 30,
        },
        base_model=family,
        seed=b.file_seed(),
    )
    path = b.lora(
        repo,
        d / f"{style.replace('-', '_')}_style.safetensors",
        family,
        scheme=scheme,
        modules=6,
        rank=2,
        alpha=2.0,
        meta=meta,
    )
    make_model_card(
        d,
        title=f"{style.replace('-', ' ').title()} Style",
        tags=["lora", "style", "art style"],
        base_model=_BASE_REPOS[family],
        instance_prompt=f"{trigger} style",
        widget_prompts=[f"a lighthouse on a cliff, {trigger} style"],
        body=f"Turns any prompt into {style.replace('-', ' ')} artwork.",
    )
    if style == "ink-sketch":
        b.originals["ink-sketch-style"] = path
    if i % 4 == 0:
        _preview(d, path, f"a lighthouse on a cliff, {trigger} style", i, family)
    if i % 3 == 1:
        # Authors often keep an earlier version next to the current one.
        b.lora(
            repo,
            path.with_name(path.stem + "_v1.safetensors"),
            family,
            scheme=scheme,
            modules=6,
            rank=2,
            meta=meta,
        )


def _concept_repo(b: _Builder, i: int) -> None:
    concept = _CONCEPTS[i % len(_CONCEPTS)] + (
        "" if i < len(_CONCEPTS) else f"-{i // len(_CONCEPTS) + 1}"
    )
    family = ("sd1", "sdxl", "sdxl", "flux1", "wan", "ltx_video", "hunyuan_video", "sd3")[i % 8]
    kind = ("lora", "loha", "lokr", "dora", "lora")[i % 5] if family in ("sd1", "sdxl") else "lora"
    author = _AUTHORS[(i * 7) % len(_AUTHORS)]
    repo, d = b.repo(author, concept, "concept")
    trigger = concept.replace("-", "")[:8]
    meta = kohya_metadata(
        output_name=concept.replace("-", "_"),
        trigger=trigger,
        class_word="concept",
        tags={trigger: 50, concept.replace("-", " "): 45, "scenery": 25, "no humans": 28},
        base_model=family,
        network_module="networks.lora" if kind == "lora" else "lycoris.kohya",
        network_args=(
            {"algo": "lora", "dora_wd": "True"}
            if kind == "dora"
            else ({"algo": kind} if kind in ("loha", "lokr") else None)
        ),
        seed=b.file_seed(),
    )
    b.lora(
        repo,
        d / f"{concept.replace('-', '_')}.safetensors",
        family,
        kind=kind,
        modules=6,
        rank=2,
        meta=meta,
    )
    make_model_card(
        d,
        title=concept.replace("-", " ").title(),
        tags=["lora", "concept", "scenery"],
        base_model=_BASE_REPOS[family],
        instance_prompt=trigger,
        body=f"Adds {concept.replace('-', ' ')} to your scenes.",
    )


def _anime_repo(b: _Builder, i: int) -> None:
    slug, character, franchise = _ANIME[i % len(_ANIME)]
    if i >= len(_ANIME):
        slug = f"{slug}-v{i // len(_ANIME) + 1}"
    family = ("sdxl", "sd1")[i % 2]
    repo, d = b.repo(_AUTHORS[(i * 5) % len(_AUTHORS)], slug, "anime_character")
    trigger = character.lower().replace(" ", "_")
    tags = {
        trigger: 40,
        franchise: 38,
        "1girl" if i % 3 else "1boy": 36,
        "anime coloring": 30,
        "official style": 20,
    }
    meta = kohya_metadata(
        output_name=slug.replace("-", "_"),
        trigger=trigger,
        class_word="",
        tags=tags,
        base_model=family,
        seed=b.file_seed(),
    )
    b.lora(repo, d / f"{slug.replace('-', '_')}.safetensors", family, modules=6, rank=2, meta=meta)
    make_model_card(
        d,
        title=f"{character} ({franchise}) character LoRA",
        tags=["lora", "anime", "character", franchise],
        base_model=_BASE_REPOS[family],
        instance_prompt=trigger,
        body=f"{character} from {franchise}, in the official anime style.",
    )


def _woman_concept_repo(b: _Builder, i: int) -> None:
    names = [
        "better-women",
        "diverse-portraits",
        "realistic-skin",
        "woman-in-cafe",
        "beautiful-faces",
        "street-fashion",
    ]
    name = names[i % len(names)] + ("" if i < len(names) else f"-{i // len(names) + 1}")
    family = ("sdxl", "sd1")[i % 2]
    repo, d = b.repo(_AUTHORS[(i * 3) % len(_AUTHORS)], name, "generic_woman")
    tags = {
        "woman": 480,
        "1girl": 300,
        "realistic": 420,
        "portrait": 260,
        "smile": 140,
        "outdoors": 120,
    }
    meta = kohya_metadata(
        output_name=name.replace("-", "_"),
        trigger="woman",
        class_word="",
        tags=tags,
        base_model=family,
        images=500,
        repeats=1,
        seed=b.file_seed(),
    )
    b.lora(repo, d / f"{name.replace('-', '_')}.safetensors", family, modules=6, rank=2, meta=meta)
    make_model_card(
        d,
        title=name.replace("-", " ").title(),
        tags=["lora", "concept", "photorealistic", "women"],
        base_model=_BASE_REPOS[family],
        body="Trained on 500 licensed stock photos of many different women; improves realism. "
        "Not a specific person.",
    )


def _nsfw_concept_repo(b: _Builder, i: int) -> None:
    name = ("nsfw-pose-pack", "explicit-anatomy-helper", "nude-art-studies")[i % 3]
    if i >= 3:
        name += f"-{i // 3 + 1}"
    repo, d = b.repo(_AUTHORS[(i * 11) % len(_AUTHORS)], name, "sexual_concept", sexual=True)
    tags = {"nsfw": 200, "nude": 180, "explicit": 90, "pose": 150, "woman": 160, "man": 60}
    meta = kohya_metadata(
        output_name=name.replace("-", "_"),
        trigger="nsfwpose",
        class_word="",
        tags=tags,
        base_model="sdxl",
        images=300,
        repeats=1,
        seed=b.file_seed(),
    )
    b.lora(repo, d / f"{name.replace('-', '_')}.safetensors", "sdxl", modules=6, rank=2, meta=meta)
    make_model_card(
        d,
        title=name.replace("-", " ").title(),
        tags=["lora", "nsfw", "concept"],
        base_model=_BASE_REPOS["sdxl"],
        body="Adult content concept (nsfw, nude), many anonymous stock models; no specific person.",
    )


_FORMAT_CATEGORIES = {
    "checkpoint": "checkpoint",
    "checkpoint_pickle": "checkpoint",
    "checkpoint_sd3": "checkpoint",
    "checkpoint_ltx": "checkpoint",
    "unsafe_pickle": "unsafe_pickle",
    "ti_sd1": "textual_inversion",
    "ti_sdxl": "textual_inversion",
    "ti_pt": "textual_inversion",
    "ti_sd2": "textual_inversion",
    "peft_folder": "peft_folder",
    "peft_dora": "peft_folder",
    "diffusers_folder": "peft_folder",
    "gguf_flux": "gguf",
    "gguf_wan": "gguf",
}


def _other_formats(b: _Builder) -> None:
    """Checkpoints, pickles, embeddings, PEFT folders, GGUF and broken files."""
    cases: list[tuple[str, str, str]] = [
        ("merge_master", "dreamy-mix-sd15", "checkpoint"),
        ("merge_master", "dreamy-mix-sd15-ckpt", "checkpoint_pickle"),
        ("free_models", "realistic-vision-ckpt", "unsafe_pickle"),
        ("sai_fan", "sd3-medium-finetune", "checkpoint_sd3"),
        ("video_lab", "ltx-finetune", "checkpoint_ltx"),
        ("embeddings_r_us", "easy-negative", "ti_sd1"),
        ("embeddings_r_us", "bad-hands-xl", "ti_sdxl"),
        ("embeddings_r_us", "old-style-embedding", "ti_pt"),
        ("embeddings_r_us", "sd2-embedding", "ti_sd2"),
        ("diffusers_trainer", "dreambooth-dog-lora", "peft_folder"),
        ("diffusers_trainer", "flux-pixel-lora", "diffusers_folder"),
        ("diffusers_trainer", "sdxl-dora-adapter", "peft_dora"),
        ("city_gguf", "flux1-dev-gguf", "gguf_flux"),
        ("city_gguf", "wan2.1-t2v-gguf", "gguf_wan"),
        ("broken_uploads", "truncated-lora", "broken_truncated"),
        ("broken_uploads", "bad-header", "broken_invalid_json"),
        ("broken_uploads", "empty-upload", "broken_empty"),
        ("broken_uploads", "huge-header", "broken_header_2_60"),
        ("broken_uploads", "weird-metadata", "broken_non_string_metadata"),
    ]
    hostile = _safetensors_cases()
    for author, name, what in cases:
        category = _FORMAT_CATEGORIES.get(what, "broken")
        repo, d = b.repo(author, name, category)
        slug = name.replace("-", "_")
        if what == "checkpoint":
            p = make_checkpoint(d / f"{slug}.safetensors", "sd1", seed=b.file_seed())
            b.record(repo, p, "safetensors", "checkpoint", "sd1", "ldm")
        elif what == "checkpoint_pickle":
            p = make_checkpoint(d / f"{slug}.ckpt", "sd1", seed=b.file_seed(), fmt="pickle")
            b.record(repo, p, "pickle", "checkpoint", "sd1", "ldm")
        elif what == "unsafe_pickle":
            p = d / "realisticVision_v51.ckpt"
            p.write_bytes(hostile_pickle_bytes("pickle_os_system", b.root))
            # One tensor only: the family is not identifiable, and the payload is the point.
            b.record(repo, p, "pickle", "checkpoint", None, "ldm", unsafe_pickle=True)
        elif what == "checkpoint_sd3":
            p = make_checkpoint(d / f"{slug}.safetensors", "sd3", seed=b.file_seed())
            b.record(repo, p, "safetensors", "checkpoint", "sd3", "ldm")
        elif what == "checkpoint_ltx":
            p = make_checkpoint(d / f"{slug}.safetensors", "ltx_video", seed=b.file_seed())
            b.record(repo, p, "safetensors", "checkpoint", "ltx_video", None)
        elif what.startswith("ti_"):
            fam = {"ti_sd1": "sd1", "ti_sdxl": "sdxl", "ti_pt": "sd1", "ti_sd2": "sd2"}[what]
            fmt = "pt" if what == "ti_pt" else "safetensors"
            p = make_textual_inversion(
                d / f"{slug}.{fmt}", fam, vectors=8, fmt=fmt, seed=b.file_seed()
            )
            b.record(
                repo, p, "pickle" if fmt == "pt" else "safetensors", "textual_inversion", fam, None
            )
        elif what in ("peft_folder", "peft_dora", "diffusers_folder"):
            fam = {"peft_folder": "sd1", "peft_dora": "sdxl", "diffusers_folder": "flux1"}[what]
            folder = make_diffusers_lora_folder(
                d,
                fam,
                8,
                8.0,
                peft=what != "diffusers_folder",
                seed=b.file_seed(),
                modules=10,
                use_dora=what == "peft_dora",
            )
            for f in sorted(folder.glob("*.safetensors")):
                b.record(
                    repo,
                    f,
                    "diffusers",
                    "dora" if what == "peft_dora" else "lora",
                    fam,
                    "diffusers_peft",
                )
        elif what.startswith("gguf_"):
            fam = {"gguf_flux": "flux1", "gguf_wan": "wan"}[what]
            p = make_gguf(
                d / f"{slug}-Q8_0.gguf" if fam == "flux1" else d / f"{slug}.gguf",
                fam,
                seed=b.file_seed(),
                dtype="Q8_0" if fam == "flux1" else "F16",
            )
            b.record(repo, p, "gguf", "checkpoint", fam, None)
        else:
            case = what.removeprefix("broken_")
            p = d / f"{slug}.safetensors"
            p.write_bytes(hostile[case])
            # Broken files have no trustworthy format: readers may call them unknown.
            b.record(repo, p, None, "unknown", None, None, broken=True)
        make_model_card(
            d,
            title=name.replace("-", " ").title(),
            tags=[category],
            body=f"{what.replace('_', ' ')}.",
        )


_AUTHOR_NAME = re.compile(r"[A-Za-z0-9_.-]+")


_LISTING_TYPES = {
    "lora": "LORA",
    "lycoris": "LoCon",
    "dora": "LORA",
    "checkpoint": "Checkpoint",
    "textual_inversion": "TextualInversion",
}
_LISTING_BASES = {
    "sd1": "SD 1.5",
    "sd2": "SD 2.1 768",
    "sdxl": "SDXL 1.0",
    "sd3": "SD 3",
    "flux1": "Flux.1 D",
    "wan": "Wan Video",
    "hunyuan_video": "Hunyuan Video",
    "ltx_video": "LTXV",
}


def _write_listings(b: _Builder) -> None:
    """``DIR/listings.jsonl``: each repo as a hub listing (the ``../shared/data`` shape).

    Text comes from what the repo shows (card title, tags, body, trigger,
    preview prompts); ``poi``/``nsfw`` are the truth labels, so
    ``classify-listings`` and bank imports can be checked on the demo hub too.
    """
    with (b.root / "listings.jsonl").open("w", encoding="utf-8") as out:
        for i, repo in enumerate(b.repos):
            files = [f for f in repo.files if not f.broken and f.member is None]
            if not files or files[0].kind not in _LISTING_TYPES:
                continue
            d = b.root / repo.repo
            text = (d / "README.md").read_text(encoding="utf-8")
            _, front_raw, rest = text.split("---\n", 2)
            front = yaml.safe_load(front_raw) or {}
            lines = rest.strip().splitlines()
            title = lines[0].removeprefix("# ").strip() if lines else repo.repo
            body = "\n".join(x for x in lines[1:] if x and not x.startswith("#")).strip()
            trigger = str(front.get("instance_prompt") or "").split(",")[0].strip()
            prompts = []
            for png in sorted(d.glob("*.preview.png")):
                params = read_png_text(png).get("parameters", "")
                prompts.append(params.split("\nNegative prompt:")[0][:600])
            record = listing_record(
                model_id=500_000 + i,
                model_type=_LISTING_TYPES[files[0].kind],
                name=title,
                poi=repo.real_person,
                nsfw=repo.sexual,
                tags=[t for t in front.get("tags", []) if t != "lora"],
                description=body,
                base_model=_LISTING_BASES.get(files[0].base_family or "", "Other"),
                trained_words=[trigger] if trigger else [],
                files=[b.root / f.path for f in files],
                prompts=prompts,
            )
            record["repo"] = repo.repo
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _clear_previous(root: Path) -> None:
    """Remove a previous demo hub's output from ``root``, and nothing else.

    Only author folders that are named in the old manifest and are one plain
    path component directly under ``root`` (no symlink, no ``..``) are
    removed: a tampered manifest naming ``..`` or an absolute path must not
    make a rebuild delete anything outside the hub.
    """
    manifest = root / "manifest.jsonl"
    if manifest.is_file():
        authors: set[str] = set()
        for line in manifest.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                repo = json.loads(line)["repo"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(repo, str):
                authors.add(repo.split("/", 1)[0])
        for author in authors:
            target = root / author
            if (
                _AUTHOR_NAME.fullmatch(author)
                and author not in (".", "..")
                and target.is_dir()
                and not target.is_symlink()
                and target.resolve().parent == root.resolve()
            ):
                shutil.rmtree(target)
    for leftover in root.glob("PWNED-*"):
        if leftover.is_file() and not leftover.is_symlink():
            leftover.unlink()


def build_demo_hub(directory: str | Path, *, repos: int = 200, seed: int = 0) -> DemoHub:
    """Build the demo hub in ``directory`` (created; existing demo content is replaced).

    Args:
        repos: number of repo folders (at least :data:`MIN_REPOS`); the fixed
            cases come first, common kinds (style, concept, anime character,
            generic woman, sexual concept) fill the rest.
        seed: the same seed gives byte-identical files and manifest.

    Returns:
        A :class:`DemoHub` with the manifest entries and banned list.
    """
    if repos < MIN_REPOS:
        raise ValueError(f"the demo hub needs at least {MIN_REPOS} repos (got {repos})")
    root = Path(directory)
    _clear_previous(root)
    root.mkdir(parents=True, exist_ok=True)
    b = _Builder(root, seed)
    for i in range(len(_STYLES)):
        _style_repo(b, i)
    _people(b)
    _other_formats(b)
    _copies(b)
    fillers = (
        _concept_repo,
        _anime_repo,
        _woman_concept_repo,
        _style_repo,
        _concept_repo,
        _nsfw_concept_repo,
    )
    counters = dict.fromkeys(fillers, 0)
    counters[_style_repo] = len(_STYLES)
    k = 0
    while len(b.repos) < repos:
        fn = fillers[k % len(fillers)]
        fn(b, counters[fn])
        counters[fn] += 1
        k += 1
    _write_listings(b)
    entries = tuple(r.to_json() for r in b.repos)
    with (root / "manifest.jsonl").open("w", encoding="utf-8") as f:
        for e in entries:
            f.write(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n")
    with (root / "banned.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(BANNED_COLUMNS))
        w.writeheader()
        w.writerows(b.banned)
    return DemoHub(root, entries, tuple(b.banned))


def load_manifest(directory: str | Path) -> list[dict[str, Any]]:
    """Read ``manifest.jsonl`` of a demo hub."""
    text = (Path(directory) / "manifest.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


__all__ = [
    "BANNED_COLUMNS",
    "MIN_REPOS",
    "DemoHub",
    "FileTruth",
    "RepoTruth",
    "build_demo_hub",
    "load_manifest",
]
