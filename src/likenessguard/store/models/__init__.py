"""All catalog tables; importing this module registers every table on ``Base.metadata``."""

from likenessguard.store.models.core import ArtifactRow

__all__ = ["ArtifactRow"]
