"""likenessguard: a trust-and-safety scanner for AI model hubs.

It reads model files without executing them, hashes them as Civitai does,
finds copies of banned models, and judges real-person likeness, sexual intent
and minor risk with cited evidence.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
