"""One suite for every sync-state backend: Redis (real server) and SQLite (a real file).

``replicas`` opens independent stores on the same state (new Redis clients,
or new SQLite connections on the same file), as separate service replicas
would, so the concurrency tests race real connections, not one object.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from slack_connect.store import SyncStore, open_store, parse_store_url

OVERLAP = 30.0
Replicas = Callable[[], SyncStore]


@pytest.fixture(params=["redis", "sqlite"])
async def replicas(
    request: pytest.FixtureRequest, redis_url: str, redis_prefix: str, tmp_path: Path
) -> AsyncIterator[Replicas]:
    if request.param == "redis":
        url, prefix = redis_url, f"{redis_prefix}store:{uuid.uuid4().hex[:8]}"
    else:
        url, prefix = f"sqlite:///{tmp_path / 'state' / 'sync.db'}", ""
    opened: list[SyncStore] = []

    def open_replica() -> SyncStore:
        opened.append(open_store(url, redis_prefix=prefix, overlap_seconds=OVERLAP))
        return opened[-1]

    yield open_replica
    for store in opened:
        await store.aclose()


@pytest.fixture
def store(replicas: Replicas) -> SyncStore:
    return replicas()


async def test_raw_items_come_a_page_at_a_time_in_id_order(store: SyncStore) -> None:
    items = {f"C{i:03d}": f'{{"id": "C{i:03d}"}}' for i in range(120)}
    await store.put_raw("org-p", "channels", items)
    seen: list[str] = []
    for offset in range(0, 150, 50):
        page, total = await store.raw_page("org-p", "channels", offset, 50)
        assert total == 120 and len(page) == min(50, 120 - offset)
        seen += [k for k, _ in page]
    assert seen == sorted(items)
    first, _ = await store.raw_page("org-p", "channels", 0, 1)
    assert first == [("C000", items["C000"])]


async def test_raw_items_round_trip_per_org_and_kind(store: SyncStore) -> None:
    await store.put_raw("org-a", "channels", {"C1": '{"id": "C1"}', "C2": '{"id": "C2"}'})
    await store.put_raw("org-a", "channels", {"C2": '{"id": "C2", "name": "new"}'})
    await store.put_raw("org-a", "users", {"U1": '{"id": "U1"}'})
    await store.put_raw("org-a", "users", {})
    assert await store.get_raw("org-a", "channels") == {
        "C1": '{"id": "C1"}',
        "C2": '{"id": "C2", "name": "new"}',
    }
    assert await store.get_raw("org-a", "users") == {"U1": '{"id": "U1"}'}
    assert await store.get_raw("org-b", "channels") == {}
    with pytest.raises(ValueError, match="kind"):
        await store.put_raw("org-a", "cursor", {"C1": "x"})
    with pytest.raises(ValueError, match="kind"):
        await store.get_raw("org-a", "")


async def test_allowlist_is_replaced_as_a_whole(store: SyncStore) -> None:
    await store.set_allowlist("org-a", ["C2", "C1", "C1"])
    assert await store.allowlist("org-a") == {"C1", "C2"}
    await store.set_allowlist("org-a", ["C3"])
    assert await store.allowlist("org-a") == {"C3"}
    await store.set_allowlist("org-a", [])
    assert await store.allowlist("org-a") == set()
    assert await store.allowlist("org-b") == set()


async def test_claim_new_returns_each_ts_once_and_release_forgets(store: SyncStore) -> None:
    assert await store.claim_new("o", "C1", []) == []
    first = await store.claim_new("o", "C1", ["1700000002.000000", "1700000001.000000"])
    assert first == ["1700000002.000000", "1700000001.000000"]  # input order
    again = await store.claim_new("o", "C1", ["1700000001.000000", "1700000003.000000"])
    assert again == ["1700000003.000000"]
    assert await store.claim_new("o", "C2", ["1700000001.000000"]) == ["1700000001.000000"]
    assert await store.claim_new("other", "C1", ["1700000001.000000"]) == ["1700000001.000000"]
    await store.release("o", "C1", ["1700000001.000000"])
    await store.release("o", "C1", [])
    retried = await store.claim_new("o", "C1", ["1700000001.000000", "1700000002.000000"])
    assert retried == ["1700000001.000000"]
    with pytest.raises(ValueError, match="ts"):
        await store.claim_new("o", "C1", ["1700000004.000000", "yesterday"])
    # A bad ts refuses the whole call: nothing of it was recorded.
    assert await store.claim_new("o", "C1", ["1700000004.000000"]) == ["1700000004.000000"]


async def test_advance_moves_cursor_forward_only_and_adds_counters(store: SyncStore) -> None:
    assert await store.cursors("o") == {}
    await store.advance("o", "C1", "1700000100.000500", {"received": 3, "sent": 2, "replies": 0})
    await store.advance("o", "C1", "1700000050.000000", {"received": 1, "duplicates": 1})
    await store.advance("o", "C1", None, {"received": 2})
    # Decimal order, not string order: 999... < 1000... even though "9" > "1".
    await store.advance("o", "C2", "999999999.000000", {})
    await store.advance("o", "C2", "1000000000.000000", {})
    assert await store.cursors("o") == {"C1": "1700000100.000500", "C2": "1000000000.000000"}
    assert await store.counts("o", "C1") == {"received": 6, "sent": 2, "duplicates": 1}
    assert await store.counts("o", "C2") == {}
    with pytest.raises(ValueError, match="ts"):
        await store.advance("o", "C1", "not-a-ts", {"received": 5})
    assert await store.counts("o", "C1") == {"received": 6, "sent": 2, "duplicates": 1}


async def test_advance_prunes_dedup_entries_far_behind_the_cursor(store: SyncStore) -> None:
    old, recent = "1700000000.000000", "1700000990.000000"
    await store.claim_new("o", "C1", [old, recent])
    await store.advance("o", "C1", "1700001000.000000", {})
    # 1000 s behind with a 30 s overlap: outside the window, forgotten.
    assert await store.claim_new("o", "C1", [old, recent]) == [old]


async def test_oldest_for_subtracts_the_overlap_and_stops_at_zero(store: SyncStore) -> None:
    assert store.oldest_for(None) == "0"
    assert store.oldest_for("1700000100.000500") == "1700000070.000500"
    assert store.oldest_for("10.000000") == "0.000000"


async def test_status_reports_cursors_counts_and_dropped(store: SyncStore) -> None:
    await store.set_allowlist("o", ["C1", "C3"])
    store.clock = lambda: 1_800_000_000.25
    await store.advance("o", "C1", "1700000100.000000", {"received": 2, "sent": 2})
    store.clock = lambda: 1_800_000_060.5
    await store.advance("o", "C2", "1700000200.000000", {"received": 1})
    await store.count_dropped("o", "C9", 4)
    await store.count_dropped("o", "C9", 1)
    await store.count_dropped("o", "C8", 0)
    assert await store.dropped("o") == {"C9": 5}
    assert await store.status("o") == {
        "channels": {
            "C1": {
                "allowlisted": True,
                "cursor": "1700000100.000000",
                "last_synced_at": "2027-01-15T08:00:00.250000+00:00",
                "next_oldest": "1700000070.000000",
                "counts": {"received": 2, "sent": 2},
            },
            "C2": {
                "allowlisted": False,
                "cursor": "1700000200.000000",
                "last_synced_at": "2027-01-15T08:01:00.500000+00:00",
                "next_oldest": "1700000170.000000",
                "counts": {"received": 1},
            },
            "C3": {
                "allowlisted": True,
                "cursor": None,
                "last_synced_at": None,
                "next_oldest": "0",
                "counts": {},
            },
        },
        "dropped_not_allowlisted": {"C9": 5},
        "dropped_total": 5,
    }
    assert (await store.status("empty-org"))["dropped_total"] == 0


async def test_last_synced_at_is_the_latest_sync_of_each_channel(replicas: Replicas) -> None:
    first, second = replicas(), replicas()
    first.clock = lambda: 1_800_000_100.0
    second.clock = lambda: 1_800_000_050.0  # a replica whose sync finished earlier
    await first.advance("o", "C1", "1700000001.000000", {"sent": 1})
    await second.advance("o", "C1", "1700000002.000000", {"sent": 1})
    await second.advance("o", "C2", None, {"received": 0})  # written, nothing new
    assert await first.synced_at("o") == {"C1": 1_800_000_100.0, "C2": 1_800_000_050.0}
    report = await second.status("o")
    assert report["channels"]["C1"]["last_synced_at"] == "2027-01-15T08:01:40+00:00"
    assert report["channels"]["C1"]["cursor"] == "1700000002.000000"
    assert await first.synced_at("other-org") == {}


async def test_state_outlives_the_store_object(replicas: Replicas) -> None:
    first = replicas()
    await first.set_allowlist("o", ["C1"])
    await first.claim_new("o", "C1", ["1700000001.000000"])
    await first.advance("o", "C1", "1700000001.000000", {"sent": 1})
    await first.aclose()
    await first.aclose()  # closing twice is harmless
    second = replicas()
    assert await second.allowlist("o") == {"C1"}
    assert await second.cursors("o") == {"C1": "1700000001.000000"}
    assert await second.claim_new("o", "C1", ["1700000001.000000"]) == []


async def test_concurrent_claims_across_replicas_claim_each_ts_exactly_once(
    replicas: Replicas,
) -> None:
    stores = [replicas() for _ in range(3)]
    universe = [f"17000{i:05d}.000100" for i in range(120)]
    rng = random.Random(8)
    batches = [rng.sample(universe, 40) for _ in range(60)]

    async def claim(i: int, batch: list[str]) -> list[str]:
        return await stores[i % len(stores)].claim_new("o", "C1", batch)

    results = await asyncio.gather(*(claim(i, b) for i, b in enumerate(batches)))
    claimed = [ts for result in results for ts in result]
    assert len(claimed) == len(set(claimed))  # nobody got a ts someone else got
    assert set(claimed) == set().union(*batches)  # and every offered ts went to someone
    for result, batch in zip(results, batches, strict=True):
        assert result == [ts for ts in batch if ts in set(result)]  # input order kept


async def test_concurrent_advances_never_move_a_cursor_back(replicas: Replicas) -> None:
    stores = [replicas() for _ in range(3)]
    values = [f"{1700000000 + i}.{i % 7:06d}" for i in range(80)]
    random.Random(9).shuffle(values)
    after_own_advance: list[tuple[str, str]] = []
    racing = True

    async def advance(i: int, newest: str) -> None:
        store = stores[i % len(stores)]
        await store.advance("o", "C1", newest, {"received": 1, "sent": 2})
        after_own_advance.append((newest, (await store.cursors("o"))["C1"]))

    async def sample() -> list[float]:
        # One reader's successive reads are ordered in time, so they must never decrease.
        seen: list[float] = []
        while racing:
            cursor = (await stores[2].cursors("o")).get("C1")
            if cursor is not None:
                seen.append(float(cursor))
        return seen

    sampler = asyncio.create_task(sample())
    try:
        await asyncio.gather(*(advance(i, v) for i, v in enumerate(values)))
    finally:
        racing = False  # the sampler stops even when an advance failed
        samples = await sampler
    assert samples == sorted(samples)
    assert all(float(seen) >= float(newest) for newest, seen in after_own_advance)
    assert (await stores[0].cursors("o"))["C1"] == max(values, key=float)
    assert await stores[1].counts("o", "C1") == {"received": 80, "sent": 160}


async def test_a_closed_sqlite_store_refuses_calls(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}", redis_prefix="", overlap_seconds=1)
    await store.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await store.allowlist("o")


async def test_sqlite_store_commits_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "sync.db"
    store = open_store(f"sqlite:///{path}", redis_prefix="", overlap_seconds=1)
    try:
        await store.set_allowlist("o", ["C1"])
        await store.claim_new("o", "C1", ["1700000001.000000"])
        # Another connection sees the writes at once: they were committed on return.
        with sqlite3.connect(path) as other:
            assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert other.execute("SELECT channel FROM allowlist").fetchall() == [("C1",)]
            assert other.execute("SELECT ts FROM seen").fetchall() == [("1700000001.000000",)]
    finally:
        await store.aclose()


@pytest.mark.parametrize(
    ("url", "backend", "target"),
    [
        ("sqlite:///state/sync.db", "sqlite", "state/sync.db"),
        ("sqlite:////var/lib/sync.db", "sqlite", "/var/lib/sync.db"),
        ("redis://127.0.0.1:6379/0", "redis", "redis://127.0.0.1:6379/0"),
        ("rediss://cache.internal:6380/2", "redis", "rediss://cache.internal:6380/2"),
    ],
)
def test_store_urls_name_their_backend(url: str, backend: str, target: str) -> None:
    location = parse_store_url(url)
    assert (location.backend, location.target) == (backend, target)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("sqlite://", "sqlite:///relative.db"),
        ("sqlite:///", "sqlite:///relative.db"),
        ("sqlite://host/x.db", "sqlite:///relative.db"),
        ("sqlite:///x.db?mode=ro", "sqlite:///relative.db"),
        ("sqlite:///state/", "sqlite:///relative.db"),
        ("redis://", "needs a host"),
        ("postgresql://localhost/db", "unsupported store URL scheme 'postgresql'"),
        ("/var/lib/sync.db", "unsupported store URL scheme ''"),
    ],
)
def test_bad_store_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("?", r"\?")):
        parse_store_url(url)
