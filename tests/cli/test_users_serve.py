"""``likenessguard users`` and ``likenessguard serve``: accounts from the shell, a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from argon2 import PasswordHasher, profiles
from typer.testing import CliRunner

from likenessguard.cli import users
from likenessguard.cli.exit_codes import ExitCode
from likenessguard.store import review
from likenessguard.store.db import open_catalog
from likenessguard.testing.catalog import make_catalog
from likenessguard.web.demo import DEMO_USER, prepare_demo

APP = typer.Typer()
users.register(APP)
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def cheap_argon2() -> Iterator[None]:
    previous = review.use_password_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))
    yield
    review.use_password_hasher(previous)


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(APP, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout


def test_users_create_list_token_disable(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'catalog.db'}"
    code, out = run(
        "users", "create", "alice", "--admin", "--password-stdin", "--db", db, stdin=PASSWORD
    )
    assert code == 0 and out.strip() == "created admin alice"
    code, out = run("users", "create", "bob", "--db", db, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert code == 0 and "created reviewer bob" in out  # prompted twice, hidden
    code, out = run("users", "token", "bob", "--label", "ci", "--db", db)
    token = out.strip()
    assert code == 0 and token.startswith("lgt_")
    engine = open_catalog(db)
    assert review.user_for_token(engine, token) is not None
    code, out = run("users", "disable", "bob", "--db", db)
    assert code == 0 and review.user_for_token(engine, token) is None
    code, out = run("users", "list", "--db", db)
    assert out.splitlines() == ["alice\tadmin\tactive", "bob\treviewer\tdisabled"]
    assert review.audit_log(engine, action="user.create")[0].actor == "cli"
    engine.dispose()


def test_users_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'catalog.db'}"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from likenessguard.cli.app import main; main()",
            *("users", "disable", "nobody", "--db", db),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == ExitCode.USAGE
    assert proc.stderr.strip() == "error: no user named 'nobody': see 'likenessguard users list'"


def test_prepare_demo_opens_cases_and_a_one_time_admin(tmp_path: Path) -> None:
    engine = open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    make_catalog(engine, 50, seed=5)
    name, password = prepare_demo(engine)
    assert name == DEMO_USER and len(password) >= 12
    user = review.authenticate(engine, name, password)
    assert user is not None and user.role == "admin" and user.must_change_password
    assert sum(review.severity_counts(engine).values()) > 0
    again = prepare_demo(engine)[1]
    assert again != password and review.authenticate(engine, name, password) is None
    engine.dispose()


@pytest.mark.slow
def test_serve_runs_uvicorn_on_the_catalog(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'catalog.db'}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from likenessguard.cli.app import main; main()",
            "serve",
            "--db",
            db,
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        resp = None
        deadline = time.monotonic() + 120  # generous: CI machines can be very busy
        while time.monotonic() < deadline:
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, "serve exited before answering"
                time.sleep(0.2)
        assert resp is not None and resp.text == "ok", "serve did not answer in 120 s"
        login = httpx.get(f"http://127.0.0.1:{port}/login")
        assert login.status_code == 200 and "Reviewer sign-in" in login.text
        assert "server" not in {k.lower() for k in login.headers}
        assert (tmp_path / "data" / "likenessguard" / "web_secret_key").is_file()
    finally:
        proc.terminate()
        proc.communicate(timeout=20)  # reaps the process and closes its pipes
