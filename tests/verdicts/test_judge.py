"""judge end to end on model files, the scan analyzer, stored evidence and re-judging."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

from likenessguard.artifacts.base import Artifact, Format
from likenessguard.evidence.base import Evidence, EvidenceContext
from likenessguard.evidence.context import collect_local_context
from likenessguard.pipeline.base import Analyzer, LocalTarget, ScanContext
from likenessguard.pipeline.judge import VerdictAnalyzer
from likenessguard.registry.base import Registry, Subject, subject_id
from likenessguard.store.records import Location
from likenessguard.testing import kohya_metadata, make_lora
from likenessguard.verdicts.base import Detector, Label, Severity, Verdict
from likenessguard.verdicts.judge import (
    choose_condition,
    compact_evidence,
    judge,
    judge_evidence,
    rejudge_record,
)
from likenessguard.verdicts.minor_risk import MinorRiskDetector, ages
from likenessguard.verdicts.policy import default_policy

REG = Registry([Subject(subject_id("Jane Roe"), "Jane Roe")])


def _lora(tmp_path: Path, name: str, **kw: object) -> Path:
    return make_lora(tmp_path / name, "sd1", metadata=kohya_metadata(base_model="sd1", **kw))  # type: ignore[arg-type]


def test_detectors_satisfy_the_protocol() -> None:
    assert isinstance(MinorRiskDetector(default_policy()), Detector)


def test_ages() -> None:
    assert ages("13yo, 14 y.o., age 12, fifteen years old, 16-year-old") == [13, 14, 12, 15, 16]
    assert ages("trained 2 years, 1024 steps, v2, sd 1.5, 25 years old") == [25]


def test_condition_choice() -> None:
    assert choose_condition([Evidence("listing", "name", "Jane Roe portrait", "title")]) == "full"
    assert choose_condition([Evidence("listing", "name", "lora_v2 final", "title")]) == "disguised"
    assert choose_condition([Evidence("x", "trainedWords", "jnroe", "trigger")]) == "disguised"


def test_person_lora_from_metadata(tmp_path: Path) -> None:
    lora = _lora(
        tmp_path,
        "jane_roe_v2.safetensors",
        output_name="jane_roe_v2",
        trigger="jnroe",
        class_word="woman",
        tags={"jnroe": 40, "1girl": 40, "nude": 30, "nipples": 25, "solo": 40},
    )
    v = judge(collect_local_context(lora), registry=REG)
    assert v.labels[Label.REAL_PERSON].fired and v.subject == subject_id("Jane Roe")
    assert v.labels[Label.SEXUAL].fired
    assert v.severity is Severity.HIGH
    cited = v.labels[Label.SEXUAL].evidence
    assert cited[0].field == "ss_tag_frequency" and cited[0].count >= 25


def test_style_lora_is_clean(tmp_path: Path) -> None:
    lora = _lora(
        tmp_path,
        "watercolor_style.safetensors",
        output_name="watercolor_style",
        trigger="wtrclr",
        class_word="style",
        tags={"wtrclr": 30, "landscape": 20, "mountain": 12, "watercolor": 30},
    )
    v = judge(collect_local_context(lora), registry=REG)
    assert v.severity is Severity.NONE and v.subject is None


def test_negative_prompt_never_fires() -> None:
    ev = [
        Evidence("image-text", "parameters.prompt", "a castle on a hill", "prompt"),
        Evidence(
            "image-text", "parameters.negative_prompt", "child, loli, nude, nsfw", "negative-prompt"
        ),
    ]
    v = judge_evidence(ev, registry=REG)
    assert not v.labels[Label.MINOR_RISK].fired and not v.labels[Label.SEXUAL].fired


def test_analyzer_records_verdict_and_bounded_evidence(tmp_path: Path) -> None:
    lora = _lora(
        tmp_path,
        "janeRoe.safetensors",
        output_name="janeRoe",
        tags={f"tag{i}": i for i in range(300)},
    )
    analyzer = VerdictAnalyzer(registry=REG)
    assert isinstance(analyzer, Analyzer)
    target = LocalTarget.from_path(lora)
    art = target.read()[0]
    result = analyzer.analyze(art, None, target.location, ScanContext(target))
    assert result.verdict is not None and result.verdict.subject == subject_id("Jane Roe")
    stored = result.extra["evidence"]
    assert 0 < len(stored) <= 150
    assert sum(1 for e in stored if e["signal"] == "tag") == 60
    # Picklable for --jobs N; a registry from a DB is reloaded lazily in the worker.
    clone = pickle.loads(pickle.dumps(VerdictAnalyzer(db_url="sqlite:///x.db")))
    assert not clone._registry.built and clone.db_url == "sqlite:///x.db"


def test_analyzer_on_a_hub_location() -> None:
    art = Artifact(
        "loras/maryMajor.safetensors",
        10,
        Format.SAFETENSORS,
        metadata={"ss_output_name": "jane roe"},
    )
    loc = Location(
        "hf://someone/jane-roe@abc/loras/maryMajor.safetensors",
        hub="huggingface",
        repo="someone/jane-roe",
    )
    ctx = VerdictAnalyzer(registry=REG).context_for(art, loc)
    assert ctx.repo_name == "someone/jane-roe" and ctx.file_name == "maryMajor.safetensors"


def test_rejudge_record_finds_a_new_subject() -> None:
    ev = [Evidence("file-name", "file_name", "MaryMajor_v1.safetensors", "name")]
    record = {"evidence": compact_evidence(ev), "verdict": judge_evidence(ev).to_json()}
    assert Verdict.from_json(record["verdict"]).subject is None
    reg = Registry([Subject(subject_id("Mary Major"), "Mary Major")])
    v = rejudge_record(record, reg)
    assert v is not None and v.subject == subject_id("Mary Major")
    assert rejudge_record({"path": "x"}, reg) is None
    assert rejudge_record({"evidence": [{"bad": 1}, "x"]}, reg) is None


def test_verdict_json_roundtrip() -> None:
    v = judge(EvidenceContext(listing={"name": "Jane Roe", "tags": ["celebrity"]}), registry=REG)
    assert Verdict.from_json(v.to_json()).to_json() == v.to_json()


def test_hostile_listing_is_fast() -> None:
    record = {"name": "a." * 50_000, "description": "x" * 500_000, "tags": ["y"] * 100_000}
    start = time.perf_counter()
    judge(EvidenceContext(listing=record))
    assert time.perf_counter() - start < 3.0


def test_explicit_training_share_floor() -> None:
    from likenessguard.verdicts.sexual import explicit_tag_share

    def tags(counts: dict[str, int]) -> tuple[Evidence, ...]:
        return tuple(
            Evidence("safetensors-metadata", "ss_tag_frequency", t, "tag", c)
            for t, c in counts.items()
        )

    heavy = tags({"mmjr": 40, "1girl": 40, "nude": 22, "photorealistic": 30})
    assert explicit_tag_share(heavy) == 22 / 40
    assert judge_evidence(heavy, models=None).labels[Label.SEXUAL].score >= 0.85
    light = tags({"mmjr": 40, "nude": 5})
    assert explicit_tag_share(light) == 5 / 40
    assert not judge_evidence(light, models=None).labels[Label.SEXUAL].fired
