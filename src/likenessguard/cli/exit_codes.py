"""Exit codes: a documented contract that CI pipelines and hub hooks depend on.

0  OK         nothing at or above --fail-on was found
1  FINDINGS   something at or above --fail-on was found (or a guard blocked)
2  USAGE      bad arguments, bad configuration, or nothing could be scanned
3  ENVIRONMENT the catalog, a hub or another service could not be reached
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1
    USAGE = 2
    ENVIRONMENT = 3
