"""Pub/sub channels, logging set-up, and the FastAPI middleware and dependency."""

import asyncio
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, WebSocket
from fastapi.testclient import TestClient

from mimeiapify.symphony_ai import GlobalSymphony, SerializationError
from mimeiapify.symphony_ai.fastapi import (
    SharedStateMiddleware,
    header_identity,
    shared_state_dependency,
)
from mimeiapify.symphony_ai.redis import RedisSharedState, _current_ss
from mimeiapify.symphony_ai.redis.context import NoSharedStateError, current_shared_state
from mimeiapify.symphony_ai.redis.pubsub import UserChannel
from mimeiapify.utils import JsonLinesFormatter, setup_logging


async def test_channels_deliver_only_to_their_user(symphony: GlobalSymphony) -> None:
    ana, bob = UserChannel("acme", "ana"), UserChannel("acme", "bob")
    spoof = UserChannel("acme:channel", "ana")  # crafted tenant cannot reach ana's channel
    async with (
        ana.subscription(poll_interval=0.1) as ana_messages,
        bob.subscription(poll_interval=0.1) as bob_messages,
    ):
        assert await ana.publish({"type": "chunk", "text": "hi"}) == 1
        assert await spoof.publish({"type": "spoof"}) == 0
        assert await ana_messages.next(wait=5) == {"type": "chunk", "text": "hi"}
        with pytest.raises(TimeoutError):
            await bob_messages.next(wait=0.3)
        with pytest.raises(SerializationError):
            await ana.publish(object())


def test_setup_logging_json_lines_on_our_logger_and_rotates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = setup_logging(
        level="DEBUG", mode="DEV", log_dir=tmp_path / "logs", json_lines=True,
        logger_name="mimeiapify", max_bytes=2000, backup_count=2,
    )  # fmt: skip
    try:
        capsys.readouterr()
        log.info("hello %s", "world", extra={"tenant": "acme"})
        try:
            raise ValueError("bad")
        except ValueError:
            log.exception("failed")
        for i in range(100):
            log.debug("line %d", i)
        err = capsys.readouterr().err.splitlines()
        first = json.loads(err[0])
        assert (
            first["message"] == "hello world"
            and first["tenant"] == "acme"
            and first["level"] == "INFO"
        )
        assert "ValueError: bad" in json.loads(err[1])["exception"]
        files = sorted(p.name for p in (tmp_path / "logs").iterdir())
        daily = f"app_logs_{datetime.now():%Y%m%d}.log"
        assert files == [daily, f"{daily}.1", f"{daily}.2"]
        for line in (tmp_path / "logs" / daily).read_text().splitlines():
            json.loads(line)
        assert log.propagate is False  # not handled twice by the root
        again = setup_logging(level="INFO", mode="DEV", logger_name="mimeiapify")
        assert len(again.handlers) == 1  # replaced, not stacked
        assert type(again.handlers[0]).__name__ == "RichHandler"
    finally:
        for handler in list(logging.getLogger("mimeiapify").handlers):
            handler.close()
            logging.getLogger("mimeiapify").removeHandler(handler)
        logging.getLogger("mimeiapify").propagate = True
    # as in 1.4: an unknown level is INFO
    quiet = setup_logging(level="LOUD", logger_name="mimeiapify.level-check")
    try:
        assert quiet.level == logging.INFO
    finally:
        for handler in list(quiet.handlers):
            handler.close()
            quiet.removeHandler(handler)
    assert isinstance(
        JsonLinesFormatter().format(logging.LogRecord("x", 20, "", 0, "m", (), None)), str
    )


def test_current_shared_state_error_is_clear() -> None:
    with pytest.raises(NoSharedStateError, match="SharedStateMiddleware"):
        current_shared_state()


async def test_middleware_and_dependency_bind_and_reset(symphony: GlobalSymphony) -> None:
    app = FastAPI()
    app.add_middleware(SharedStateMiddleware, resolve=header_identity())
    dep_app = FastAPI()

    async def from_path(conn: object) -> tuple[str, str]:
        return ("t-dep", conn.path_params.get("user", "anon"))  # type: ignore[attr-defined]

    @app.get("/who")
    async def who() -> dict[str, str | None]:
        state = _current_ss.get(None)
        if state is None:
            return {"tenant": None, "user": None}
        await state.set_field("seen", "by", "middleware")
        return {"tenant": state.tenant, "user": state.user_id}

    bound_state = Annotated[RedisSharedState, Depends(shared_state_dependency(from_path))]

    @dep_app.get("/dep/{user}")
    async def dep(state: bound_state) -> dict[str, str]:
        assert _current_ss.get() is state
        return {"user": state.user_id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        results = await asyncio.gather(
            *(
                client.get("/who", headers={"x-tenant-id": "t", "x-user-id": f"u{i}"})
                for i in range(30)
            )
        )
        assert [r.json()["user"] for r in results] == [f"u{i}" for i in range(30)]
        assert (await client.get("/who")).json() == {"tenant": None, "user": None}
        bad = await client.get("/who", headers={"x-tenant-id": "", "x-user-id": "u"})
        assert bad.json() == {"tenant": None, "user": None}  # missing identity: not bound
        huge = await client.get("/who", headers={"x-tenant-id": "t" * 3000, "x-user-id": "u"})
        assert huge.status_code == 400 and "tenant" in huge.json()["detail"]
    assert _current_ss.get(None) is None
    assert await RedisSharedState(tenant="t", user_id="u7").get("seen") == {"by": "middleware"}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=dep_app), base_url="http://d"
    ) as client:
        assert (await client.get("/dep/zoe")).json() == {"user": "zoe"}


def test_middleware_binds_websocket_sessions(redis_url: str, symphony_env: str) -> None:
    from contextlib import asynccontextmanager

    from mimeiapify.symphony_ai import GlobalSymphonyConfig

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        await GlobalSymphony.create(GlobalSymphonyConfig(redis_url=redis_url))
        yield
        await GlobalSymphony.shutdown()

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(SharedStateMiddleware)

    @app.websocket("/ws")
    async def ws(socket: WebSocket) -> None:
        await socket.accept()
        text = await socket.receive_text()
        state = current_shared_state()
        await state.set_field("ws", "last", text)
        await socket.send_json(
            {"user": state.user_id, "stored": await state.get_field("ws", "last")}
        )
        await socket.close()

    with (
        TestClient(app) as client,
        client.websocket_connect("/ws", headers={"x-tenant-id": "t", "x-user-id": "w1"}) as sock,
    ):
        sock.send_text("hey")
        assert sock.receive_json() == {"user": "w1", "stored": "hey"}
