"""Read GGUF files (quantized diffusion models from ComfyUI-GGUF, llama.cpp models).

Quantized copies of banned checkpoints and LoRAs circulate as GGUF, so they
must be identified like any other artifact. The ``gguf`` package's reader
memory-maps the file and parses only the key-value header and the tensor
table; tensor data is never touched here.

GGUF stores dimensions innermost-first (``ne[0]`` is a Linear layer's input
width); shapes are reversed into PyTorch order so identification rules are the
same as for safetensors.
"""

from __future__ import annotations

from typing import Any

from likenessguard.artifacts.base import Artifact, BaseFamily, ByteSource, Format, TensorInfo
from likenessguard.artifacts.identify import identify

GGUF_MAGIC = b"GGUF"
#: Arrays longer than this (tokenizer vocabularies) are summarised, not copied.
MAX_ARRAY_ITEMS = 32
MAX_VALUE_CHARS = 4096

#: ``general.architecture`` values written by ComfyUI-GGUF's converter.
ARCHITECTURE_FAMILIES: dict[str, BaseFamily] = {
    "flux": BaseFamily.FLUX1,
    "sd1": BaseFamily.SD1,
    "sd2": BaseFamily.SD2,
    "sdxl": BaseFamily.SDXL,
    "sd3": BaseFamily.SD3,
    "wan": BaseFamily.WAN,
    "hyvid": BaseFamily.HUNYUAN_VIDEO,
    "ltxv": BaseFamily.LTX_VIDEO,
}


def _field_text(field: Any) -> str:
    """A GGUF KV value as a string (arrays as JSON-ish lists, long ones summarised)."""
    import gguf

    types = list(field.types)
    if not types:
        return ""
    if types[0] == gguf.GGUFValueType.ARRAY:
        count = len(field.data)
        if count > MAX_ARRAY_ITEMS:
            return f"[{count} items]"
        items = [field.contents(i) for i in range(count)]
        return "[" + ", ".join(repr(v) if isinstance(v, str) else str(v) for v in items) + "]"
    value = field.contents()
    text = value if isinstance(value, str) else str(value)
    return text[:MAX_VALUE_CHARS]


def read_gguf(source: ByteSource, name: str | None = None, *, path: str | None = None) -> Artifact:
    """Read a GGUF file's metadata and tensor table.

    GGUF needs random access through a memory map, so only local files are
    supported: ``path`` (or ``source.name``) must name the file.
    """
    label = source.name if name is None else name
    local = path or source.name
    try:
        import gguf

        reader = gguf.GGUFReader(local, "r")
    except (ValueError, IndexError, KeyError, TypeError, OverflowError, AssertionError) as exc:
        detail = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        return Artifact(
            path=label,
            size=source.size,
            format=Format.GGUF,
            errors=(
                f"{label} is not a readable GGUF file ({detail}): the file is corrupt "
                f"or hostile; it was skipped",
            ),
        )
    metadata: dict[str, str] = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue  # the header's own bookkeeping (version, counts)
        try:
            metadata[key] = _field_text(field)
        except (ValueError, UnicodeDecodeError, IndexError) as exc:
            metadata[key] = f"<unreadable: {type(exc).__name__}>"
    tensors: list[TensorInfo] = []
    for t in reader.tensors:
        shape = tuple(int(d) for d in reversed(list(t.shape)))
        dtype = t.tensor_type.name
        tensors.append(TensorInfo(t.name, dtype, shape, int(t.data_offset), int(t.n_bytes)))
    identity, warnings = identify(tensors, metadata)
    arch = metadata.get("general.architecture", "")
    claimed = ARCHITECTURE_FAMILIES.get(arch)
    reasons = list(identity.reasons)
    if claimed is not None:
        if identity.base_family is BaseFamily.UNKNOWN:
            reasons.append(f"general.architecture {arch} (metadata only, unverified)")
            identity = _with(identity, base_family=claimed, reasons=tuple(reasons))
        elif identity.base_family is not claimed:
            warnings.append(
                f"metadata says general.architecture {arch} but weights are "
                f"{identity.base_family.value}-shaped; trusting the weights"
            )
    elif arch:
        reasons.append(f"general.architecture {arch} is not a diffusion family")
        identity = _with(identity, reasons=tuple(reasons))
    return Artifact(
        path=label,
        size=source.size,
        format=Format.GGUF,
        identity=identity,
        tensors=tuple(tensors),
        metadata=metadata,
        decoded=dict(metadata),
        data_offset=int(reader.data_offset),
        warnings=tuple(warnings),
    )


def _with(identity: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(identity, **changes)


class GGUFReader:
    """:class:`~likenessguard.artifacts.base.ArtifactReader` for ``.gguf``."""

    format = Format.GGUF

    def sniff(self, head: bytes, name: str) -> bool:
        return head[:4] == GGUF_MAGIC

    def read(self, source: ByteSource) -> Artifact:
        return read_gguf(source)
