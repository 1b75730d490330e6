"""A runnable FastAPI app that uses every part of symphony_ai.

Run it (Redis settings come from ``SYMPHONY_*`` variables, e.g. ``SYMPHONY_REDIS_URL``)::

    python -m mimeiapify.symphony_ai.example_app --port 8080

Every request names its tenant and user in the ``X-Tenant-ID`` / ``X-User-ID``
headers; the middleware binds that user's shared state for the request.

* ``POST /chat {"message": ...}`` runs two Agency-Swarm tools in the tool pool;
  they read and write the request's shared state and stream progress to the
  user's pub/sub channel.
* ``GET /events`` streams that channel as server-sent events.
* ``POST /reminders {"text": ..., "in_seconds": n}`` arms an expiration trigger;
  when it fires, the reminder is published to the user's channel.
* ``GET /state/{name}``, ``GET /metrics``, ``GET /healthz``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from mimeiapify.symphony_ai.fastapi import SharedStateMiddleware, header_identity
from mimeiapify.symphony_ai.globals import GlobalSymphony, GlobalSymphonyConfig
from mimeiapify.symphony_ai.redis.context import current_shared_state
from mimeiapify.symphony_ai.redis.pubsub import UserChannel
from mimeiapify.symphony_ai.redis.redis_handler import RedisSharedState, RedisTrigger
from mimeiapify.symphony_ai.tools import AsyncBaseTool
from mimeiapify.utils.logger import logger, setup_logging

REMINDER_ACTION = "send_reminder"


class RememberMessage(AsyncBaseTool):
    """Store the user's latest message and count the turns of the conversation."""

    message: str = Field(..., description="The user's message")

    def run(self) -> dict[str, Any]:
        self.set_state_field("conversation", "last_message", self.message)
        turns = self.run_async(self.shared_state.increment_field("conversation", "turns"))
        return {"user_id": self.shared_state.user_id, "turns": turns}


class StreamReply(AsyncBaseTool):
    """Publish the reply in chunks to the user's channel, as an agent streams tokens."""

    reply: str = Field(..., description="Text to stream")

    def run(self) -> int:
        state = self.shared_state
        channel = UserChannel(state.tenant, state.user_id)
        words = self.reply.split()
        for word in words:
            self.run_async(channel.publish({"type": "chunk", "text": word}))
        self.run_async(channel.publish({"type": "done"}))
        return len(words)


def run_tools(message: str) -> dict[str, Any]:
    """What an agency would do on a worker thread: call the tools in turn."""
    remembered = RememberMessage(message=message).run()
    streamed = StreamReply(reply=f"you said {message}").run()
    seen = RememberMessage(message=message).get_state("conversation")
    return {**remembered, "chunks": streamed, "state_seen_by_tool": seen}


class ChatIn(BaseModel):
    message: str = Field(min_length=1, max_length=10_000)


class ReminderIn(BaseModel):
    text: str = Field(min_length=1, max_length=1_000)
    in_seconds: int = Field(ge=1, le=30 * 24 * 3600)


async def send_reminder(tenant: str, user_id: str) -> None:
    state = RedisSharedState(tenant=tenant, user_id=user_id)
    text = await state.get_field("reminders", "text")
    await UserChannel(tenant, user_id).publish({"type": "reminder", "text": text})


def create_app(config: GlobalSymphonyConfig | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cfg = config or GlobalSymphonyConfig(enable_expiry_listener=True, enable_metrics=True)
        symphony = await GlobalSymphony.create(cfg)
        if symphony.expiry_listener is not None:
            symphony.expiry_listener.register(REMINDER_ACTION, send_reminder)
        try:
            yield
        finally:
            await GlobalSymphony.shutdown()

    app = FastAPI(title="symphony_ai example", lifespan=lifespan)
    app.add_middleware(SharedStateMiddleware, resolve=header_identity())

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"redis": await GlobalSymphony.get().redis_for("default").ping()}

    @app.post("/chat")
    async def chat(body: ChatIn) -> dict[str, Any]:
        current_shared_state()  # 400-style error early if no identity was given
        pool = GlobalSymphony.get().pool_tool
        result: dict[str, Any] = await pool.run(run_tools, body.message)
        return result

    @app.get("/state/{state_name}")
    async def read_state(state_name: str) -> dict[str, Any]:
        return await current_shared_state().get(state_name) or {}

    @app.post("/reminders", status_code=201)
    async def add_reminder(body: ReminderIn) -> dict[str, Any]:
        state = current_shared_state()
        await state.set("reminders", {"text": body.text})
        await RedisTrigger(tenant=state.tenant).set(REMINDER_ACTION, state.user_id, body.in_seconds)
        return {"armed": True, "in_seconds": body.in_seconds}

    @app.get("/events")
    async def events() -> StreamingResponse:
        state = current_shared_state()
        channel = UserChannel(state.tenant, state.user_id)

        async def stream() -> AsyncIterator[bytes]:
            async with channel.subscription(poll_interval=0.5) as messages:
                yield b": subscribed\n\n"
                async for message in messages:
                    yield f"data: {json.dumps(message)}\n\n".encode()

        return StreamingResponse(stream(), media_type="text/event-stream")

    @app.get("/metrics")
    async def metrics() -> Response:
        collected = GlobalSymphony.get().metrics
        if collected is None:
            raise HTTPException(status_code=404, detail="metrics are disabled")
        return Response(collected.render(), media_type="text/plain; version=0.0.4")

    @app.exception_handler(LookupError)
    async def no_identity(request: Any, exc: LookupError) -> Response:
        body = json.dumps({"detail": str(exc)})
        return Response(body, status_code=400, media_type="application/json")

    return app


class _AnnouncingServer(uvicorn.Server):
    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(f"listening on http://{self.config.host}:{self.config.port}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--log-mode", choices=["DEV", "PROD"], default="PROD")
    args = parser.parse_args(argv)
    setup_logging(level="INFO", mode=args.log_mode)
    config = uvicorn.Config(create_app(), host=args.host, port=args.port, log_level="warning")
    logger.info("starting example app on %s:%s", args.host, args.port)
    asyncio.run(_AnnouncingServer(config).serve())


if __name__ == "__main__":
    main()
