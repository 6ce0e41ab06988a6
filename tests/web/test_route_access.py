"""Every route, walked as anonymous and as each role: each answers as its role table says.

The table below is the access contract (docs/web.md lists it too). A route that is
not in the table fails the test, so a new endpoint cannot ship unclassified.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from likenessguard.store import review
from likenessguard.web.app import route_table
from likenessguard.web.security import make_grant

from .conftest import SEALER, case_of, csrf_of, login, make_client, seed_catalog, seed_users

RANK = {"public": 0, "viewer": 1, "reviewer": 2, "admin": 3}
ACCESS: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "public",
    ("GET", "/login"): "public",
    ("POST", "/login"): "public",
    ("POST", "/logout"): "public",
    ("GET", "/takedown"): "public",
    ("POST", "/takedown"): "public",
    ("GET", "/takedown/status/{token}"): "public",
    ("POST", "/takedown/status/{token}/withdraw"): "public",
    ("GET", "/account/password"): "viewer",
    ("POST", "/account/password"): "viewer",
    ("GET", "/"): "viewer",
    ("GET", "/queue"): "viewer",
    ("GET", "/escalations"): "admin",
    ("GET", "/cases/{case_id}"): "viewer",
    ("POST", "/cases/{case_id}/decision"): "reviewer",
    ("POST", "/cases/{case_id}/previews/{index}/reveal"): "reviewer",
    ("GET", "/cases/{case_id}/previews/{index}"): "reviewer",
    ("GET", "/cases/{case_id}/notice.txt"): "reviewer",
    ("GET", "/cases/{case_id}/notice.json"): "reviewer",
    ("GET", "/exports/confirmed.{fmt}"): "reviewer",
    ("GET", "/audit"): "admin",
    ("GET", "/audit/export.{fmt}"): "admin",
    ("GET", "/admin/users"): "admin",
    ("POST", "/admin/users"): "admin",
    ("POST", "/admin/users/{name}/{change}"): "admin",
    ("POST", "/admin/users/{name}/role"): "admin",
    ("POST", "/admin/sync"): "admin",
    ("GET", "/takedowns"): "reviewer",
    ("GET", "/takedowns/{takedown_id}"): "reviewer",
    ("POST", "/takedowns/{takedown_id}/accept"): "reviewer",
    ("POST", "/takedowns/{takedown_id}/reject"): "reviewer",
    ("GET", "/api/v1/openapi.json"): "public",
    ("GET", "/api/v1/me"): "viewer",
    ("GET", "/api/v1/policy/reasons"): "viewer",
    ("GET", "/api/v1/cases"): "viewer",
    ("GET", "/api/v1/counts"): "viewer",
    ("GET", "/api/v1/cases/{case_id}"): "viewer",
    ("POST", "/api/v1/cases/{case_id}/decision"): "reviewer",
    ("POST", "/api/v1/cases/{case_id}/previews/{index}/reveal"): "reviewer",
    ("GET", "/api/v1/cases/{case_id}/notice"): "reviewer",
    ("GET", "/api/v1/exports/confirmed"): "reviewer",
    ("GET", "/api/v1/audit"): "admin",
    ("GET", "/api/v1/audit/export"): "admin",
    ("POST", "/api/v1/sync"): "admin",
    ("GET", "/api/v1/users"): "admin",
    ("POST", "/api/v1/users"): "admin",
    ("POST", "/api/v1/users/{name}/disable"): "admin",
    ("POST", "/api/v1/users/{name}/enable"): "admin",
    ("POST", "/api/v1/users/{name}/tokens"): "admin",
    ("POST", "/api/v1/users/{name}/role"): "admin",
    ("POST", "/api/v1/takedowns"): "public",
    ("GET", "/api/v1/takedowns/status"): "public",
    ("POST", "/api/v1/takedowns/withdraw"): "public",
    ("GET", "/api/v1/takedowns"): "reviewer",
    ("GET", "/api/v1/takedowns/{takedown_id}"): "reviewer",
    ("POST", "/api/v1/takedowns/{takedown_id}/accept"): "reviewer",
    ("POST", "/api/v1/takedowns/{takedown_id}/reject"): "reviewer",
    ("POST", "/api/v1/guard"): "viewer",
    ("POST", "/hooks/huggingface"): "public",
}


def _routes(client: TestClient) -> list[tuple[str, str]]:
    return route_table(client.app)  # type: ignore[arg-type]


def _fill(path: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        path = path.replace("{" + key + "}", value)
    return path


@pytest.mark.parametrize("role", ["anonymous", "viewer", "reviewer", "admin"])
def test_every_route_checks_the_role(role: str, sqlite_engine: Engine, tmp_path: Path) -> None:
    ids = seed_catalog(sqlite_engine, tmp_path)
    seed_users(sqlite_engine)
    review.create_user(sqlite_engine, "target", "correct horse battery staple", role="viewer")
    receipt = review.create_takedown(
        sqlite_engine, sealer=SEALER, names=["Jane Roe"], contact="jr@example.org", relation="self"
    )
    (pending,) = review.list_takedowns(sqlite_engine, SEALER)
    with make_client(sqlite_engine, takedown_limit=1000, login_limit=1000) as client:
        routes = _routes(client)
        unknown = sorted(set(routes) - set(ACCESS))
        assert not unknown, f"routes missing from the access table: {unknown}"
        csrf = csrf_of(client.get("/login").text) if role == "anonymous" else login(client, role)
        values = {
            "case_id": str(case_of(sqlite_engine, ids["high"])),
            "index": "0",
            "name": "target",
            "change": "enable",
            "fmt": "csv",
            "token": receipt.token,
            "takedown_id": str(pending.id),
        }
        # logout last: it ends the session the rest of the walk uses
        routes.sort(key=lambda r: r == ("POST", "/logout"))
        problems = []
        for method, path in routes:
            url = _fill(path, values)
            if path == "/cases/{case_id}/previews/{index}" and role != "anonymous":
                # a grant as the reveal POST hands out; the grant check itself is
                # tested in test_pages
                user = review.get_user(sqlite_engine, role)
                assert user is not None
                secret = client.app.state.settings.secret_key  # type: ignore[attr-defined]
                url += "?grant=" + make_grant(secret, user.id, int(values["case_id"]), 0)
            headers = {"X-CSRF-Token": csrf, "X-Takedown-Token": receipt.token}
            if method == "GET":
                resp = client.get(url, headers=headers)
            elif path.startswith(("/api/", "/hooks/")):
                resp = client.post(url, json={}, headers=headers)
            else:
                resp = client.post(url, data={"csrf": csrf}, headers=headers)
            need = ACCESS[(method, path)]
            status = resp.status_code
            if status >= 500 and not (path.startswith("/hooks/") and status == 503):
                problems.append(f"{method} {path}: server error {status}")
            elif need == "public":
                if status in (401, 403) and not path.startswith("/hooks/"):
                    problems.append(f"{method} {path}: public route answered {status}")
            elif role == "anonymous":
                expected = 401 if path.startswith("/api/") else 303
                if status != expected or (
                    expected == 303 and "/login" not in resp.headers["location"]
                ):
                    problems.append(f"{method} {path}: anonymous got {status}, not {expected}")
            elif RANK[role] < RANK[need]:
                if status != 403:
                    problems.append(f"{method} {path}: {role} got {status}, not 403")
            elif status in (401, 403):
                problems.append(f"{method} {path}: {role} refused with {status}")
        assert not problems, "\n".join(problems)


def test_every_table_entry_is_a_real_route(sqlite_engine: Engine) -> None:
    with make_client(sqlite_engine) as client:
        routes = set(_routes(client))
    hooks = {k for k in ACCESS if k[1].startswith("/hooks/")}
    assert set(ACCESS) - hooks <= routes
    assert len(routes) >= 45
