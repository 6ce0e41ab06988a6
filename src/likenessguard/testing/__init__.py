"""Fixture factory: synthetic model files, hubs and catalogs for tests and the demo.

Everything here is drawn in code from random tensors; nothing is downloaded.
"""

from likenessguard.testing.factory import (
    BASE_MODEL_VERSIONS,
    DTYPES,
    KINDS,
    MODELSPEC_ARCHITECTURES,
    SCHEMES,
    convert_lora,
    default_tag_table,
    encode_tensor,
    from_bf16_bits,
    kohya_metadata,
    lora_tensors,
    make_lora,
    module_key,
    read_safetensors,
    safetensors_bytes,
    stripped_hashes,
    to_bf16_bits,
    write_safetensors,
)
from likenessguard.testing.layouts import FAMILIES, Module, modules_for

__all__ = [
    "BASE_MODEL_VERSIONS",
    "DTYPES",
    "FAMILIES",
    "KINDS",
    "MODELSPEC_ARCHITECTURES",
    "SCHEMES",
    "Module",
    "convert_lora",
    "default_tag_table",
    "encode_tensor",
    "from_bf16_bits",
    "kohya_metadata",
    "lora_tensors",
    "make_lora",
    "module_key",
    "modules_for",
    "read_safetensors",
    "safetensors_bytes",
    "stripped_hashes",
    "to_bf16_bits",
    "write_safetensors",
]
