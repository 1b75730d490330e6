"""Atomic Redis operations every repository is built on, on a given client.

Each helper is one round trip: MULTI/EXEC pipelines for "write + TTL" and
"write + read back", Lua scripts where a read-modify-write must not lose a
concurrent update (increment with lossless encoding, append to a JSON list).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

from mimeiapify.symphony_ai.errors import StoredValueError

SCAN_COUNT: Final = 500
DELETE_BATCH: Final = 500


class _Script:
    """A Lua script called by SHA, loaded on first NOSCRIPT."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, client: Redis, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            try:
                return await client.evalsha(self.sha, len(keys), *keys, *args)
            except NoScriptError:
                return await client.eval(self.source, len(keys), *keys, *args)
        except ResponseError as exc:
            text = str(exc)
            if "SYMPHONY:" in text:
                raise StoredValueError(text.split("SYMPHONY:", 1)[1].strip()) from None
            raise


# Increment a hash field that holds a number in serde's encoding (" 0"/" 1" for the
# ints 0 and 1) or in 1.4's (HINCRBY's plain "0", "1", "2", ...); text is refused
# instead of coerced. The result keeps serde's encoding, so 0 and 1 read back as ints.
_INCREMENT = _Script(
    """
local v = redis.call('HGET', KEYS[1], ARGV[1])
local n = 0
if v then
  n = tonumber(v)
  if n == nil then return redis.error_reply('SYMPHONY: field ' .. ARGV[1] .. ' is not a number') end
end
local is_float = ARGV[3] == 'f' or (v and string.find(v, '[%.eEnN]') ~= nil)
n = n + tonumber(ARGV[2])
local s
if is_float then
  s = string.format('%.17g', n)
  if not string.find(s, '[%.eEnN]') then s = s .. '.0' end
else
  s = string.format('%d', n)
  if s == '0' or s == '1' then s = ' ' .. s end
end
redis.call('HSET', KEYS[1], ARGV[1], s)
if tonumber(ARGV[4]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
return s
"""
)

# Append one JSON-encoded element to a hash field holding a JSON list, as text
# surgery (no decode/re-encode, so numbers and nesting are kept exactly).
_APPEND = _Script(
    """
local v = redis.call('HGET', KEYS[1], ARGV[1])
local out
if not v or v == 'null' then
  out = '[' .. ARGV[2] .. ']'
else
  if string.sub(v, 1, 1) ~= '[' or string.sub(v, -1) ~= ']' then
    return redis.error_reply('SYMPHONY: field ' .. ARGV[1] .. ' does not hold a list')
  end
  if string.match(v, '^%[%s*%]$') then
    out = '[' .. ARGV[2] .. ']'
  else
    out = string.sub(v, 1, -2) .. ',' .. ARGV[2] .. ']'
  end
end
redis.call('HSET', KEYS[1], ARGV[1], out)
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
local count = 0
local depth = 0
local in_str = false
local esc = false
for i = 2, #out - 1 do
  local c = string.sub(out, i, i)
  if in_str then
    if esc then esc = false
    elseif c == '\\\\' then esc = true
    elseif c == '"' then in_str = false end
  elseif c == '"' then in_str = true
  elseif c == '[' or c == '{' then depth = depth + 1
  elseif c == ']' or c == '}' then depth = depth - 1
  elseif c == ',' and depth == 0 then count = count + 1 end
end
return count + 1
"""
)


async def hset_with_ttl(
    client: Redis, key: str, mapping: Mapping[str, str], ttl: int | None, *, replace: bool = False
) -> None:
    """HSET (optionally replacing the whole hash) and EXPIRE, atomically, one round trip."""
    if not replace and not ttl:
        await client.hset(key, mapping=mapping)  # type: ignore[arg-type]
        return
    pipe = client.pipeline(transaction=True)
    if replace:
        pipe.unlink(key)
    pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
    if ttl:
        pipe.expire(key, ttl)
    await pipe.execute()


async def hset_and_getall(
    client: Redis, key: str, mapping: Mapping[str, str], ttl: int | None
) -> dict[str, str]:
    """Merge fields into a hash and return the merged hash, atomically, one round trip."""
    pipe = client.pipeline(transaction=True)
    pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
    if ttl:
        pipe.expire(key, ttl)
    pipe.hgetall(key)
    results = await pipe.execute()
    merged: dict[str, str] = results[-1]
    return merged


async def hincr(client: Redis, key: str, field: str, amount: int | float, ttl: int | None) -> str:
    """Atomically add ``amount`` to a numeric field; returns the stored text."""
    kind = "f" if isinstance(amount, float) else "i"
    result: str = await _INCREMENT(client, [key], [field, repr(amount), kind, ttl or 0])
    return result


async def happend(client: Redis, key: str, field: str, element_json: str, ttl: int | None) -> int:
    """Atomically append a JSON element to a JSON-list field; returns the new length."""
    return int(await _APPEND(client, [key], [field, element_json, ttl or 0]))


async def set_with_ttl(client: Redis, key: str, value: str, ttl: int | None) -> bool:
    """SET with an optional EX in the same command."""
    return bool(await client.set(key, value, ex=ttl or None))


async def scan_keys(client: Redis, pattern: str, count: int = SCAN_COUNT) -> AsyncIterator[str]:
    """SCAN (never KEYS) for keys matching ``pattern``."""
    async for key in client.scan_iter(match=pattern, count=count):
        yield key


async def delete_pattern(client: Redis, pattern: str) -> int:
    """UNLINK every key matching ``pattern`` in batches; returns how many were removed."""
    removed = 0
    batch: list[str] = []
    async for key in scan_keys(client, pattern):
        batch.append(key)
        if len(batch) >= DELETE_BATCH:
            removed += await client.unlink(*batch)
            batch.clear()
    if batch:
        removed += await client.unlink(*batch)
    return removed


async def renew_ttl(client: Redis, key: str, ttl: int) -> bool:
    return bool(await client.expire(key, ttl))


async def get_ttl(client: Redis, key: str) -> int:
    """Seconds left, as Redis reports it: -1 when the key has no expiry, -2 when it is missing."""
    return int(await client.ttl(key))
