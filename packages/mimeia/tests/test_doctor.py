import pytest
import redis

from mimeia import doctor
from mimeia.cli import main
from mimeia.ports import free_port

pytestmark = pytest.mark.integration


def test_reports_real_redis_and_postgres(redis_url: str, postgres_url: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    code = main(["doctor", "--only", "redis,postgres"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert ("ok   redis" in out and "redis 7" in out) or "redis 6" in out
    assert "ok   postgres" in out and "postgresql" in out
    assert "[default]" in out or "[env" in out


def test_reports_a_redis_that_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    [check] = doctor.run(["redis"])
    assert not check.ok
    assert check.source == "env REDIS_URL"
    assert "ConnectionError" in check.detail and "redis-server" in check.detail


def test_reports_a_postgres_that_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
    [check] = doctor.run(["postgres"])
    assert not check.ok
    assert check.source == "env DATABASE_URL"
    assert "pg_ctlcluster" in check.detail


def test_remote_server_is_never_started(monkeypatch: pytest.MonkeyPatch) -> None:
    # 192.0.2.0/24 is TEST-NET-1: never routed, so nothing is contacted for long.
    monkeypatch.setenv("REDIS_URL", "redis://192.0.2.1:6379/0")
    [check] = doctor.run(["redis"], start_missing=True)
    assert not check.ok and "not local" in check.detail


def test_password_is_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    [check] = doctor.run(["redis"])
    assert "hunter2" not in doctor.render([check])


def test_start_missing_brings_a_stopped_redis_back(monkeypatch: pytest.MonkeyPatch) -> None:
    # A private Redis on a free port stands in for "the Redis server was stopped".
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setenv("REDIS_URL", url)
    [before] = doctor.run(["redis"])
    assert not before.ok
    [after] = doctor.run(["redis"], start_missing=True)
    try:
        assert after.ok, after.detail
        client = redis.Redis.from_url(url, socket_timeout=3)
        assert client.ping()
    finally:
        redis.Redis.from_url(url).shutdown(nosave=True)
