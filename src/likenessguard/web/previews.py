"""Preview images of a case: found next to the model file, never anywhere else.

Hubs and download tools put a model's sample images beside it
(``model.preview.png``, ``model.png``); a scan record may also list them under
``previews``. Only regular files in the model's own directory are served, so a
hostile record cannot point the app at ``/etc/passwd``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

IMAGE_TYPES: Mapping[str, str] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}
MAX_PREVIEWS = 8


def find_previews(model_path: str, record: Mapping[str, Any]) -> list[Path]:
    """The preview images of a model, in a stable order (at most ``MAX_PREVIEWS``)."""
    model = Path(model_path)
    folder = model.parent
    if not folder.is_dir():
        return []
    candidates: list[Path] = []
    listed = record.get("previews")
    if isinstance(listed, list):
        candidates += [
            Path(p) if Path(p).is_absolute() else folder / p for p in listed if isinstance(p, str)
        ]
    stem = model.name.split(".")[0]
    for suffix in IMAGE_TYPES:
        candidates += [folder / f"{stem}.preview{suffix}", folder / f"{stem}{suffix}"]
        candidates += sorted(folder.glob(f"{stem}.preview.*{suffix}"))
    out: list[Path] = []
    root = folder.resolve()
    for path in candidates:
        try:
            resolved = path.resolve()
        except OSError:
            continue
        if (
            resolved.parent == root
            and resolved.suffix.lower() in IMAGE_TYPES
            and resolved.is_file()
            and resolved not in out
        ):
            out.append(resolved)
    return out[:MAX_PREVIEWS]
