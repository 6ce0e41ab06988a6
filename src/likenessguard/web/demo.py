"""Demo set-up for ``make demo``: an admin with a one-time password and an open queue.

The demo catalog is scanned by the lead's ``demo`` command; this opens its
cases and creates (or resets) the ``demo-admin`` account, whose password must
be changed at first sign-in, so a printed password is never a standing secret.
"""

from __future__ import annotations

import secrets

from likenessguard.store.review import (
    Engine,
    case_sync,
    create_user,
    get_user,
    set_password,
)

DEMO_USER = "demo-admin"


def prepare_demo(engine: Engine) -> tuple[str, str]:
    """Open cases from the catalog and create the demo admin.

    Returns:
        (user name, one-time password). Calling it again resets the password.
    """
    case_sync(engine)
    password = "-".join(secrets.token_urlsafe(6) for _ in range(3))
    if get_user(engine, DEMO_USER) is None:
        create_user(engine, DEMO_USER, password, role="admin", must_change_password=True)
    else:
        set_password(engine, DEMO_USER, password, must_change_password=True)
    return DEMO_USER, password
