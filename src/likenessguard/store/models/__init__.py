"""All catalog tables; importing this module registers every table on ``Base.metadata``."""

from likenessguard.store.models.core import ArtifactRow
from likenessguard.store.models.hubs import CrawlCursorRow, HubEventRow, HubListingRow, HubRepoRow
from likenessguard.store.models.registry import SubjectRow
from likenessguard.store.models.review import (
    ApiTokenRow,
    AuditRow,
    CaseRow,
    DecisionRow,
    SessionRow,
    TakedownCaseRow,
    TakedownRow,
    UserRow,
)

__all__ = [
    "ApiTokenRow",
    "ArtifactRow",
    "AuditRow",
    "CaseRow",
    "CrawlCursorRow",
    "DecisionRow",
    "HubEventRow",
    "HubListingRow",
    "HubRepoRow",
    "SessionRow",
    "SubjectRow",
    "TakedownCaseRow",
    "TakedownRow",
    "UserRow",
]
