"""The public takedown form under a flood: pending requests stop at the cap, the
registry does not move, and the per-address and global limits answer 429.

Issue #12 measured 2,839 registry entries from anonymous requests in 20 s with
the rate limit raised. Here 1,000 form posts go through the real app (in
process, with the per-address and global limits raised out of the way).
"""

from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import Engine

from likenessguard.store import review
from likenessguard.store.registry import add_subject, list_subjects

from .conftest import csrf_of, make_client

POSTS = 1000


def _form(csrf: str, n: int) -> dict[str, str]:
    return {
        "csrf": csrf,
        "names": f"Flood Person {n:04d}",
        "contact": f"flood{n}@example.invalid",
        "relation": "self",
        "statement": "yes",
    }


def test_a_flood_of_requests_stops_at_the_pending_cap_and_leaves_the_registry_alone(
    sqlite_engine: Engine,
) -> None:
    add_subject(sqlite_engine, name="Mary Major", source="manual")
    registry_before = list_subjects(sqlite_engine)
    with make_client(sqlite_engine, takedown_limit=10_000, takedown_global_limit=10_000) as client:
        csrf = csrf_of(client.get("/takedown").text)
        started = time.monotonic()
        codes = Counter(
            client.post("/takedown", data=_form(csrf, n)).status_code for n in range(POSTS)
        )
        elapsed = time.monotonic() - started
        refused = client.post("/takedown", data=_form(csrf, POSTS))
        api = client.post(
            "/api/v1/takedowns",
            json={
                "names": ["Api Flood"],
                "contact": "a@b.c",
                "relation": "self",
                "statement": True,
            },
        )
    cap = review.PENDING_CAP
    assert codes == {200: cap, 503: POSTS - cap}, codes
    assert "already waiting for review" in refused.text and refused.headers["retry-after"]
    assert "flood1000@example.invalid" not in refused.text
    assert api.status_code == 503
    assert review.pending_takedowns(sqlite_engine) == cap
    assert review.takedown_count(sqlite_engine) == cap
    # nothing reached the registry, and nothing was searched
    assert list_subjects(sqlite_engine) == registry_before
    assert review.process_takedowns(sqlite_engine) == 0
    assert elapsed < 20, f"{POSTS} posts took {elapsed:.1f} s"
    print(f"\n{POSTS} takedown posts in {elapsed:.1f} s ({POSTS / elapsed:.0f}/s): {dict(codes)}")


def test_the_global_limit_stops_a_flood_from_many_addresses(sqlite_engine: Engine) -> None:
    with make_client(
        sqlite_engine, takedown_limit=2, takedown_global_limit=5, trust_proxy=True
    ) as client:
        csrf = csrf_of(client.get("/takedown").text)
        codes = []
        for n in range(8):
            resp = client.post(
                "/takedown", data=_form(csrf, n), headers={"X-Forwarded-For": f"198.51.100.{n}"}
            )
            codes.append(resp.status_code)
        last = resp
        same = [
            client.post(
                "/takedown", data=_form(csrf, 100 + n), headers={"X-Forwarded-For": "203.0.113.9"}
            ).status_code
            for n in range(3)
        ]
    assert codes == [200] * 5 + [429] * 3
    assert "from everyone" in last.text and int(last.headers["retry-after"]) > 0
    # the budget is spent for every address, a fresh one included
    assert same == [429, 429, 429]
    assert review.takedown_count(sqlite_engine) == 5


def test_concurrent_requests_never_overshoot_the_cap(engine: Engine) -> None:
    """Eight threads racing for the last places: the count and the insert are atomic."""
    import threading

    from likenessguard.store.review import TakedownsFull

    from .conftest import SEALER

    cap, outcomes = 40, Counter[str]()
    lock = threading.Lock()

    def flood(worker: int) -> None:
        for n in range(10):
            try:
                review.create_takedown(
                    engine,
                    sealer=SEALER,
                    names=[f"Racer {worker} {n}"],
                    contact="r@example.invalid",
                    relation="self",
                    pending_cap=cap,
                )
                result = "stored"
            except TakedownsFull:
                result = "full"
            with lock:
                outcomes[result] += 1

    threads = [threading.Thread(target=flood, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes == {"stored": cap, "full": 80 - cap}
    assert review.pending_takedowns(engine) == cap
