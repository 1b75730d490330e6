"""Transports that carry out plans: requests for sync code, aiohttp for async code.

They hold no protocol knowledge: send the bytes a plan asks for, sleep when it
says so, hand emitted values to the caller. Session ownership (the three modes
of the async clients: lazy per call, ``async with``, caller-owned) lives here
too, once for every connector.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any, Self, TypeVar

import aiohttp
import requests
import urllib3.exceptions

from mimeiapify._plan import (
    Emit,
    HttpRequest,
    HttpResponse,
    Plan,
    Reply,
    Sleep,
    TransportFailure,
)

T = TypeVar("T")
USER_AGENT = "mimeiapify/1.5"


def _check_timeout(timeout: float) -> None:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")


def _not_an_emit(plan: Plan[Any]) -> None:
    plan.close()
    raise TypeError("this operation emits values; iterate it instead of running it")


# ---------------------------------------------------------------- sync (requests)


class BodyTooLarge(Exception):
    """A streamed download went past the request's ``max_bytes``."""


def _partial_path(path: str) -> str:
    return f"{path}.part"


def _finish_download(path: str) -> None:
    os.replace(_partial_path(path), path)


def _drop_partial(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_partial_path(path))


def _send_sync(session: requests.Session, request: HttpRequest, timeout: float) -> Reply:
    opened: list[Any] = []
    try:
        files = None
        if request.files:
            files = {}
            for part in request.files:
                content: Any = part.data
                if part.path is not None:
                    content = open(part.path, "rb")  # noqa: SIM115 (closed below)
                    opened.append(content)
                files[part.name] = (part.filename, content, part.content_type)
        multipart = bool(request.files or request.form)
        response = session.request(
            request.method,
            request.url,
            params=list(request.params) or None,
            json=None if multipart else request.json,
            data=dict(request.form) if multipart else None,
            files=files,
            headers={"User-Agent": USER_AGENT, **request.headers},
            timeout=timeout,
            stream=request.save_to is not None,
        )
        if request.save_to is not None and 200 <= response.status_code < 300:
            return _save_sync(response, request, request.save_to)
    except requests.exceptions.ConnectTimeout as exc:
        return TransportFailure(exc, maybe_sent=False)
    except requests.exceptions.ConnectionError as exc:
        return TransportFailure(exc, maybe_sent=not _never_connected(exc))
    except requests.exceptions.RequestException as exc:  # read timeouts and the like
        return TransportFailure(exc, maybe_sent=True)
    finally:
        for handle in opened:
            handle.close()
    return HttpResponse(response.status_code, dict(response.headers), response.content)


def _save_sync(response: requests.Response, request: HttpRequest, path: str) -> Reply:
    written = 0
    try:
        with response, open(_partial_path(path), "wb") as out:
            for chunk in response.iter_content(64 * 1024):
                written += len(chunk)
                if request.max_bytes is not None and written > request.max_bytes:
                    raise BodyTooLarge(f"more than {request.max_bytes} bytes")
                out.write(chunk)
    except (BodyTooLarge, requests.exceptions.RequestException) as exc:
        _drop_partial(path)
        return TransportFailure(exc, maybe_sent=True)
    _finish_download(path)
    return HttpResponse(response.status_code, dict(response.headers), b"")


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def iterate_sync(plan: Plan[Any], session: requests.Session, timeout: float) -> Iterator[Any]:
    reply: Reply = None
    try:
        while True:
            step = plan.send(reply)
            reply = None
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
            elif isinstance(step, Emit):
                yield step.value
            else:
                reply = _send_sync(session, step, timeout)
    except StopIteration:
        return
    finally:
        plan.close()


def run_sync(plan: Plan[T], session: requests.Session, timeout: float) -> T:
    reply: Reply = None
    try:
        while True:
            try:
                step = plan.send(reply)
            except StopIteration as done:
                return done.value
            reply = None
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
            elif isinstance(step, Emit):
                _not_an_emit(plan)
            else:
                reply = _send_sync(session, step, timeout)
    finally:
        plan.close()  # a plan left mid-way (an error, Ctrl-C) releases what it holds


class SyncSession:
    """A requests session per client, closed by ``close()`` or ``with``."""

    def __init__(self, session: requests.Session | None, timeout: float) -> None:
        _check_timeout(timeout)
        self._owns_session = session is None
        self._session = session or requests.Session()
        self.timeout = timeout

    def _run(self, plan: Plan[T]) -> T:
        return run_sync(plan, self._session, self.timeout)

    def _iterate(self, plan: Plan[Any]) -> Iterator[Any]:
        return iterate_sync(plan, self._session, self.timeout)

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# ---------------------------------------------------------------- async (aiohttp)


async def _send_async(
    session: aiohttp.ClientSession, request: HttpRequest, time_limit: float
) -> Reply:
    opened: list[Any] = []
    try:
        data: aiohttp.FormData | None = None
        if request.files or request.form:
            data = aiohttp.FormData()
            for name, value in request.form:
                data.add_field(name, value)
            for part in request.files:
                content: Any = part.data
                if part.path is not None:
                    content = open(part.path, "rb")  # noqa: SIM115, ASYNC230 (closed below)
                    opened.append(content)
                data.add_field(
                    part.name, content, filename=part.filename, content_type=part.content_type
                )
        async with session.request(
            request.method,
            request.url,
            params=list(request.params) or None,
            json=None if data is not None else request.json,
            data=data,
            headers={"User-Agent": USER_AGENT, **request.headers},
            timeout=aiohttp.ClientTimeout(total=time_limit),
        ) as response:
            if request.save_to is not None and 200 <= response.status < 300:
                return await _save_async(response, request, request.save_to)
            body = await response.read()
            return HttpResponse(response.status, dict(response.headers), body)
    except aiohttp.ClientConnectorError as exc:
        return TransportFailure(exc, maybe_sent=False)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return TransportFailure(exc, maybe_sent=True)
    finally:
        for handle in opened:
            handle.close()


async def _save_async(response: aiohttp.ClientResponse, request: HttpRequest, path: str) -> Reply:
    written = 0
    try:
        with open(_partial_path(path), "wb") as out:  # noqa: ASYNC230 (local disk, chunked)
            async for chunk in response.content.iter_chunked(64 * 1024):
                written += len(chunk)
                if request.max_bytes is not None and written > request.max_bytes:
                    raise BodyTooLarge(f"more than {request.max_bytes} bytes")
                out.write(chunk)
    except (BodyTooLarge, aiohttp.ClientError, TimeoutError) as exc:
        _drop_partial(path)
        return TransportFailure(exc, maybe_sent=True)
    _finish_download(path)
    return HttpResponse(response.status, dict(response.headers), b"")


async def iterate_async(
    plan: Plan[Any], session: aiohttp.ClientSession, time_limit: float
) -> AsyncIterator[Any]:
    reply: Reply = None
    try:
        while True:
            step = plan.send(reply)
            reply = None
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Emit):
                yield step.value
            else:
                reply = await _send_async(session, step, time_limit)
    except StopIteration:
        return
    finally:
        plan.close()


async def run_async(plan: Plan[T], session: aiohttp.ClientSession, time_limit: float) -> T:
    reply: Reply = None
    try:
        while True:
            try:
                step = plan.send(reply)
            except StopIteration as done:
                return done.value
            reply = None
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Emit):
                _not_an_emit(plan)
            else:
                reply = await _send_async(session, step, time_limit)
    finally:
        plan.close()  # a cancelled task's plan releases what it holds


class AsyncSession:
    """The three ways an async client gets its ``aiohttp.ClientSession``.

    * automatic: no session given and no ``async with``: each call opens a
      session and closes it before returning, so nothing is left for the
      garbage collector to warn about;
    * ``async with client``: one session for the whole block, closed on exit;
    * ``session=...``: the caller's session, used as is and never closed.
    """

    def __init__(self, session: aiohttp.ClientSession | None, timeout: float) -> None:
        _check_timeout(timeout)
        self._external = session
        self._scoped: aiohttp.ClientSession | None = None
        self.timeout = timeout

    def _current(self) -> aiohttp.ClientSession | None:
        if self._external is not None:
            return self._external
        if self._scoped is not None and not self._scoped.closed:
            return self._scoped
        return None

    async def _run(self, plan: Plan[T]) -> T:
        session = self._current()
        if session is not None:
            return await run_async(plan, session, self.timeout)
        async with aiohttp.ClientSession() as own:
            return await run_async(plan, own, self.timeout)

    async def _iterate(self, plan: Plan[Any]) -> AsyncIterator[Any]:
        session = self._current()
        if session is not None:
            async for value in iterate_async(plan, session, self.timeout):
                yield value
            return
        async with aiohttp.ClientSession() as own:
            async for value in iterate_async(plan, own, self.timeout):
                yield value

    async def close(self) -> None:
        """Close the session opened by ``async with`` (never a caller's session)."""
        if self._scoped is not None:
            await self._scoped.close()
            self._scoped = None

    async def __aenter__(self) -> Self:
        if self._external is None and self._scoped is None:
            self._scoped = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
