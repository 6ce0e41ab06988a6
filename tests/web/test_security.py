"""Security model: headers, cookies, CSRF, rate limits, one-time passwords, log hygiene."""

from __future__ import annotations

import logging
import re

from sqlalchemy import Engine

from likenessguard.store import review
from likenessguard.web.security import CSP, RedactSecrets, redact

from .conftest import PASSWORD, csrf_of, login, make_client, seed_users


def test_security_headers_on_pages_api_and_static(sqlite_engine: Engine) -> None:
    with make_client(sqlite_engine) as client:
        for url in ("/login", "/api/v1/openapi.json", "/static/app.css", "/nope"):
            resp = client.get(url)
            h = resp.headers
            assert h["content-security-policy"] == CSP, url
            assert "frame-ancestors 'none'" in CSP and "unsafe-inline" not in CSP
            assert "script-src 'self'" in CSP
            assert h["x-content-type-options"] == "nosniff"
            assert h["referrer-policy"] == "no-referrer"
            assert h["x-frame-options"] == "DENY"
        assert client.get("/login").headers["cache-control"] == "no-store"


def test_pages_carry_no_inline_script_or_style(sqlite_engine: Engine) -> None:
    seed_users(sqlite_engine)
    with make_client(sqlite_engine) as client:
        login(client, "admin")
        for url in ("/queue", "/audit", "/admin/users", "/takedown", "/escalations"):
            html = client.get(url).text
            assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
            assert " style=" not in html and "<style" not in html, url
            assert not re.search(r"<[^>]+\son[a-z]+\s*=", html), url  # no inline handlers


def test_session_cookie_flags_and_secure_behind_tls(sqlite_engine: Engine) -> None:
    seed_users(sqlite_engine)
    with make_client(sqlite_engine) as client:
        page = client.get("/login")
        anon = page.headers["set-cookie"]
        assert "lg_csrf=" in anon and "HttpOnly" in anon and "SameSite=strict" in anon
        resp = client.post(
            "/login",
            data={"csrf": csrf_of(page.text), "username": "admin", "password": PASSWORD},
        )
        cookie = resp.headers["set-cookie"]
        assert "lg_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie  # plain http on loopback
    with make_client(sqlite_engine) as client:
        page = client.get("/login", headers={"X-Forwarded-Proto": "https"})
        resp = client.post(
            "/login",
            data={"csrf": csrf_of(page.text), "username": "admin", "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert "Secure" in resp.headers["set-cookie"]


def test_csrf_is_required_for_forms_and_cookie_json_but_not_tokens(
    sqlite_engine: Engine,
) -> None:
    seed_users(sqlite_engine)
    token = review.create_api_token(sqlite_engine, "admin")
    with make_client(sqlite_engine) as client:
        # anonymous form without / with a wrong token
        assert (
            client.post("/login", data={"username": "admin", "password": PASSWORD}).status_code
            == 403
        )
        client.get("/login")
        bad = client.post(
            "/login", data={"csrf": "forged", "username": "admin", "password": PASSWORD}
        )
        assert bad.status_code == 403
        csrf = login(client, "admin")
        assert client.post("/admin/sync").status_code == 403
        assert client.post("/admin/sync", data={"csrf": csrf}).status_code == 303
        # cookie-authenticated JSON needs the header
        assert client.post("/api/v1/sync", json={}).status_code == 403
        assert (
            client.post("/api/v1/sync", json={}, headers={"X-CSRF-Token": csrf}).status_code == 200
        )
        # a cross-site Origin is refused even with the token
        evil = client.post(
            "/admin/sync", data={"csrf": csrf}, headers={"Origin": "https://evil.example"}
        )
        assert evil.status_code == 403
    with make_client(sqlite_engine) as api:
        resp = api.post("/api/v1/sync", json={}, headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200
        wrong = api.get("/api/v1/me", headers={"Authorization": "Bearer lgt_nope"})
        assert wrong.status_code == 401


def test_login_is_rate_limited_per_client_and_name(sqlite_engine: Engine) -> None:
    seed_users(sqlite_engine)
    with make_client(sqlite_engine, login_limit=3) as client:
        csrf = csrf_of(client.get("/login").text)
        codes = [
            client.post(
                "/login", data={"csrf": csrf, "username": "admin", "password": "wrong password!"}
            ).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        last = client.post("/login", data={"csrf": csrf, "username": "admin", "password": PASSWORD})
        assert last.status_code == 429 and int(last.headers["retry-after"]) > 0
    actions = [e.action for e in review.audit_log(sqlite_engine)]
    assert "login.failed" in actions and "login.throttled" in actions


def test_takedown_form_is_rate_limited(sqlite_engine: Engine) -> None:
    with make_client(sqlite_engine, takedown_limit=2) as client:
        csrf = csrf_of(client.get("/takedown").text)
        form = {
            "csrf": csrf,
            "names": "Jane Roe",
            "contact": "jr@example.org",
            "relation": "self",
            "statement": "yes",
        }
        codes = [client.post("/takedown", data=form).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
    assert review.takedown_count(sqlite_engine) == 2


def test_one_time_password_must_be_changed_first(sqlite_engine: Engine) -> None:
    review.create_user(
        sqlite_engine, "newbie", PASSWORD, role="reviewer", must_change_password=True
    )
    with make_client(sqlite_engine) as client:
        csrf = csrf_of(client.get("/login").text)
        resp = client.post(
            "/login", data={"csrf": csrf, "username": "newbie", "password": PASSWORD}
        )
        assert resp.headers["location"] == "/account/password"
        assert client.get("/queue").headers["location"] == "/account/password"
        assert client.get("/api/v1/me").status_code == 403
        csrf = csrf_of(client.get("/account/password").text)
        weak = client.post(
            "/account/password",
            data={"csrf": csrf, "current": PASSWORD, "new": "short", "confirm": "short"},
        )
        assert weak.status_code == 400 and "at least 12" in weak.text
        new = "a much better passphrase"
        done = client.post(
            "/account/password",
            data={"csrf": csrf, "current": PASSWORD, "new": new, "confirm": new},
        )
        assert done.headers["location"] == "/login"
        login(client, "newbie", new)
        assert client.get("/queue").status_code == 200


def test_open_redirect_after_login_is_refused(sqlite_engine: Engine) -> None:
    seed_users(sqlite_engine)
    with make_client(sqlite_engine) as client:
        for target in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)"):
            client.cookies.clear()
            csrf = csrf_of(client.get("/login").text)
            resp = client.post(
                "/login",
                data={"csrf": csrf, "username": "admin", "password": PASSWORD, "next": target},
            )
            assert resp.headers["location"] == "/queue", target


def test_access_log_redacts_takedown_status_tokens() -> None:
    token = "Q" * 43
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/takedown/status/{token}", "1.1", 200),
        None,
    )
    RedactSecrets().filter(record)
    line = record.getMessage()
    assert token not in line and "/takedown/status/[redacted]" in line
    assert redact(f"POST /takedown/status/{token}/withdraw") == (
        "POST /takedown/status/[redacted]/withdraw"
    )
