"""A generation-time guard for inference services: should this prompt be refused?

Blocks when the prompt, or any LoRA it references, is a real person and the
prompt is sexual, and always when minor risk meets sexual content. LoRAs are
referenced by hash (``--lora-hash``, looked up in the catalog by the caller)
or by name inside the prompt (``<lora:jane_roe_v2:0.8>``, matched against the
registry and the shipped name list). Every block says why.

On a prompt alone the real-person signal is the registry and full names from
the shipped list (the learned model is for model listings, not prompts);
sexual and minor risk use the same detectors as scans.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from likenessguard.evidence.base import Evidence
from likenessguard.registry.base import Registry
from likenessguard.verdicts.base import Label, Verdict
from likenessguard.verdicts.judge import judge_evidence
from likenessguard.verdicts.model import shipped_models
from likenessguard.verdicts.policy import Policy
from likenessguard.verdicts.real_person import name_list_hits

MAX_PROMPT = 20000

# hash -> stored scan records of artifacts with that hash (catalog lookup).
LoraLookup = Callable[[str], Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class GuardResult:
    """The guard's answer. ``reasons`` are one line each, safe to show the user."""

    blocked: bool
    reasons: tuple[str, ...]
    prompt_verdict: Verdict
    loras: tuple[dict[str, Any], ...] = ()
    subject: str | None = None
    labels: Mapping[str, bool] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "blocked": self.blocked,
            "reasons": list(self.reasons),
            "labels": dict(self.labels),
            "subject": self.subject,
            "loras": list(self.loras),
            "prompt_verdict": self.prompt_verdict.to_json(),
        }


def lora_names(prompt: str) -> list[str]:
    """Names in A1111 ``<lora:NAME:weight>`` / ``<lyco:NAME>`` tags, one linear scan."""
    out: list[str] = []
    i = 0
    while len(out) < 32:
        start = prompt.find("<", i)
        if start < 0:
            break
        end = prompt.find(">", start + 1, start + 300)
        if end < 0:
            i = start + 1
            continue
        body = prompt[start + 1 : end]
        kind, sep, rest = body.partition(":")
        if sep and kind.strip().lower() in ("lora", "lyco", "lycoris", "hypernet"):
            name = rest.split(":")[0].strip()
            if name:
                out.append(name)
        i = end + 1
    return out


def _stored_label(record: Mapping[str, Any], label: Label) -> bool:
    v = record.get("verdict")
    if not isinstance(v, Mapping):
        return False
    labels = v.get("labels")
    lab = labels.get(str(label)) if isinstance(labels, Mapping) else None
    return bool(isinstance(lab, Mapping) and lab.get("fired"))


def check_prompt(
    prompt: str,
    lora_hashes: Sequence[str] = (),
    *,
    lookup: LoraLookup | None = None,
    policy: Policy | None = None,
    registry: Registry | None = None,
) -> GuardResult:
    """Decide whether a generation request must be refused.

    Args:
        prompt: the positive prompt (negative prompts are not judged).
        lora_hashes: hashes of LoRAs the request loads (sha256, AutoV2, AutoV3 or a prefix).
        lookup: finds stored scan records by hash (the CLI passes a catalog lookup).
        policy: thresholds (default: the packaged policy).
        registry: protected people.

    Returns:
        A :class:`GuardResult`; ``blocked`` with one reason per rule that fired.

    Example::

        r = check_prompt("photo of jane roe, nude", registry=Registry([...]))
        r.blocked  # True
    """
    prompt = prompt[:MAX_PROMPT]
    prompt_ev = Evidence("request", "prompt", prompt, "prompt")
    names = [Evidence("request", "prompt.lora", n, "name") for n in lora_names(prompt)]
    # Sexual and minor risk are judged on the prompt text alone; LoRA names only
    # identify people (registry and name list), they say nothing about intent.
    verdict = judge_evidence([prompt_ev], policy, registry, models=shipped_models())
    name_subject = None
    if names and registry is not None and len(registry):
        hits = registry.match(names)
        name_subject = hits[0].subject.id if hits else None
    everything = (prompt_ev, *names)
    rp_prompt = bool(verdict.subject or name_subject) or bool(name_list_hits(everything))
    sexual = verdict.labels[Label.SEXUAL].fired
    minor = verdict.labels[Label.MINOR_RISK].fired
    reasons: list[str] = []
    loras: list[dict[str, Any]] = []
    rp_lora = False
    for h in lora_hashes[:32]:
        records = list(lookup(h)) if lookup else []
        info: dict[str, Any] = {
            "hash": h,
            "known": bool(records),
            "real_person": False,
            "minor_risk": False,
        }
        for rec in records:
            if _stored_label(rec, Label.REAL_PERSON):
                info["real_person"] = True
                info["path"] = rec.get("path")
                v = rec.get("verdict")
                if isinstance(v, Mapping) and v.get("subject"):
                    info["subject"] = v["subject"]
            if _stored_label(rec, Label.MINOR_RISK):
                info["minor_risk"] = True
        rp_lora = rp_lora or info["real_person"]
        minor = minor or info["minor_risk"]
        loras.append(info)
    if sexual and rp_prompt:
        who_id = verdict.subject or name_subject
        who = f" (registry subject {who_id})" if who_id else ""
        reasons.append(f"the prompt names a real person{who} and asks for sexual content")
    if sexual and rp_lora:
        hashes = ", ".join(str(x["hash"]) for x in loras if x["real_person"])
        reasons.append(
            f"LoRA {hashes} reproduces a real person and the prompt asks for sexual content"
        )
    if minor and sexual:
        reasons.append("the request combines minor-risk terms with sexual content")
    subject = (
        verdict.subject
        or name_subject
        or next((x.get("subject") for x in loras if x.get("subject")), None)
    )
    return GuardResult(
        blocked=bool(reasons),
        reasons=tuple(reasons),
        prompt_verdict=verdict,
        loras=tuple(loras),
        subject=subject,
        labels={"real_person": rp_prompt or rp_lora, "sexual": sexual, "minor_risk": minor},
    )
