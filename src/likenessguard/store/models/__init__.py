"""All catalog tables; importing this module registers every table on ``Base.metadata``."""

from likenessguard.store.models.banks import BankEntryRow, BankRow, FingerprintRow, MatchRow
from likenessguard.store.models.core import ArtifactRow
from likenessguard.store.models.hubs import (
    CrawlCursorRow,
    HubEventRow,
    HubListingRow,
    HubRemovalRow,
    HubRepoRow,
)
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
    "BankEntryRow",
    "BankRow",
    "CaseRow",
    "CrawlCursorRow",
    "DecisionRow",
    "FingerprintRow",
    "HubEventRow",
    "HubListingRow",
    "HubRemovalRow",
    "HubRepoRow",
    "MatchRow",
    "SessionRow",
    "SubjectRow",
    "TakedownCaseRow",
    "TakedownRow",
    "UserRow",
]
