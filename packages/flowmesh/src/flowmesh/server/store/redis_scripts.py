"""Lua scripts of the Redis store: every state change runs as one atomic script.

Each script gets the resource's key base (``<prefix>{fm:<kind>:<path>}:``) as
ARGV[1] and builds the resource's key names from it; the hash tag puts all of
a resource's keys in one Redis Cluster slot. KEYS[1] is always one of those
keys so the script is routed to the right node.
"""

from __future__ import annotations

# Helpers several scripts share: creating a queue's meta hash with the default
# retry policy, the schema attachment check, reading a token's version.
_COMMON = """
local function ensure_queue(meta, d)
  if redis.call('EXISTS', meta) == 0 then
    redis.call('HSET', meta, 'next_seq', 0, 'completed', 0, 'failed', 0,
      'max_attempts', d[1], 'initial_backoff_ms', d[2], 'max_backoff_ms', d[3],
      'backoff_multiplier', d[4], 'jitter', d[5], 'backoff_strategy', d[6])
  end
end

-- The schema attachment check every write makes: the caller validated against
-- `expected` (a token, '' for none); anything else stored means it must look again.
local function check_schema(holder, expected)
  local current = redis.call('HGET', holder, 'schema') or ''
  if current ~= expected then
    return redis.error_reply('FLOWMESH_SCHEMA ' .. current)
  end
  return nil
end

-- The version an attachment token names (0 for none): 'id@3#fp' -> 3.
local function token_version(token)
  if token == '' then return 0 end
  return tonumber(string.match(token, '@(%d+)#[^#]*$'))
end
"""

# Moves a partition's time index past trimmed offsets: entries wholly before
# the new base go; the one the base falls in now starts at the base.
_TRIM_INDEX = """
local function trim_index(zkey, newbase)
  while true do
    local head = redis.call('ZRANGE', zkey, 0, 1, 'WITHSCORES')
    if #head == 0 or tonumber(head[1]) >= newbase then return end
    redis.call('ZREM', zkey, head[1])
    if #head < 4 or tonumber(head[3]) > newbase then
      redis.call('ZADD', zkey, head[2], newbase)
      return
    end
  end
end
"""

# ARGV: base, now, explicit partition (-1: by key hash), channel, topic prefix,
# expected schema token, producer key ('' for none), its window (ms), then
# pairs of (key hash or -1, headers json + "\n" + payload). Each partition's
# time never goes back (hash 'lastts'); a message is stored as
# "<ts>[ <schema version>]\n<headers>\n<payload>", and the partition's time
# index (zset 'ts:<p>': score time, member the first offset written at that
# time) gains an entry whenever its time moves on. Returns flat (partition,
# offset) pairs; an idempotent producer's repeated key gets the pairs its
# first write returned (key 'pid:<producer>:<seq>', expiring).
STREAM_APPEND = (
    _COMMON
    + _TRIM_INDEX
    + """
local base, now, explicit, channel = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local seen = nil
if ARGV[7] ~= '' then
  seen = base .. 'pid:' .. ARGV[7]
  local hit = redis.call('GET', seen)
  if hit then return cjson.decode(hit) end
end
local cfg = base .. 'cfg'
local bad = check_schema(cfg, ARGV[6])
if bad then return bad end
local ver = token_version(ARGV[6])
local parts = tonumber(redis.call('HGET', cfg, 'partitions') or '1')
local ret_count = tonumber(redis.call('HGET', cfg, 'ret_count') or '0')
local ret_age = tonumber(redis.call('HGET', cfg, 'ret_age') or '0')
if explicit >= parts then
  return redis.error_reply('FLOWMESH partition: ' .. explicit ..
    ' is out of range, stream has ' .. parts)
end
redis.call('HSETNX', cfg, 'partitions', 1)
local out, pending, next_off, order = {}, {}, {}, {}
for i = 9, #ARGV, 2 do
  local h = tonumber(ARGV[i])
  local p = explicit
  if p < 0 then
    if h < 0 or parts <= 1 then p = 0 else p = h % parts end
  end
  if next_off[p] == nil then
    local b = tonumber(redis.call('HGET', base .. 'base', p) or '0')
    next_off[p] = b + redis.call('LLEN', base .. 'p:' .. p)
    pending[p] = {first = next_off[p]}
    order[#order + 1] = p
  end
  local batch = pending[p]
  batch[#batch + 1] = ARGV[i + 1]
  out[#out + 1] = p
  out[#out + 1] = next_off[p]
  next_off[p] = next_off[p] + 1
end
for _, p in ipairs(order) do
  local lkey = base .. 'p:' .. p
  local zkey = base .. 'ts:' .. p
  local batch = pending[p]
  local last = tonumber(redis.call('HGET', base .. 'lastts', p) or '-1')
  local ts = now
  if last > ts then ts = last end
  if ts > last then
    redis.call('HSET', base .. 'lastts', p, ts)
    redis.call('ZADD', zkey, ts, batch.first)
  end
  local head = ts .. '\\n'
  if ver > 0 then head = ts .. ' ' .. ver .. '\\n' end
  for k = 1, #batch do batch[k] = head .. batch[k] end
  for s = 1, #batch, 1000 do
    redis.call('RPUSH', lkey, unpack(batch, s, math.min(s + 999, #batch)))
  end
  local len = redis.call('LLEN', lkey)
  local drop = 0
  if ret_count > 0 and len > ret_count then drop = len - ret_count end
  if ret_age > 0 then
    while drop < len do
      local first = redis.call('LINDEX', lkey, drop)
      if tonumber(string.match(first, '^(%d+)')) >= ts - ret_age then break end
      drop = drop + 1
    end
  end
  if drop > 0 then
    redis.call('LTRIM', lkey, drop, -1)
    trim_index(zkey, redis.call('HINCRBY', base .. 'base', p, drop))
  end
  redis.call('PUBLISH', channel, ARGV[5] .. p)
end
if seen then redis.call('SET', seen, cjson.encode(out), 'PX', ARGV[8]) end
return out
"""
)

# ARGV: base, partition, time (ms). The first offset written at or after that
# time (the next offset when none), or -1 when the stream does not exist.
# Messages stored before the time index existed sit ahead of its first entry;
# those few are binary-searched by the time each one starts with.
STREAM_SEEK = """
local base, p, t = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('EXISTS', base .. 'cfg') == 0 then return -1 end
local b = tonumber(redis.call('HGET', base .. 'base', p) or '0')
local key, zkey = base .. 'p:' .. p, base .. 'ts:' .. p
local head = redis.call('ZRANGE', zkey, 0, 0, 'WITHSCORES')
local indexed = b + redis.call('LLEN', key)
if #head > 0 then indexed = tonumber(head[1]) end
if indexed > b and (#head == 0 or t <= tonumber(head[2])) then
  local lo, hi = b, indexed
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if tonumber(string.match(redis.call('LINDEX', key, mid - b), '^(%d+)')) >= t then
      hi = mid
    else
      lo = mid + 1
    end
  end
  if lo < indexed then return lo end
end
local hit = redis.call('ZRANGEBYSCORE', zkey, t, '+inf', 'LIMIT', 0, 1)
if #hit == 0 then return b + redis.call('LLEN', key) end
local offset = tonumber(hit[1])
if offset < b then offset = b end
return offset
"""

# ARGV: base, partition, offset, limit, byte cap. Returns {first offset,
# messages...}, stopping before the message that would pass the cap (the first
# always comes); {-1} when the stream does not exist. Reads in chunks sized by
# the messages seen so far, so a cap of a few MiB never loads much past it.
STREAM_READ = """
local base, p, offset = ARGV[1], ARGV[2], tonumber(ARGV[3])
local limit, cap = tonumber(ARGV[4]), tonumber(ARGV[5])
if redis.call('EXISTS', base .. 'cfg') == 0 then return {-1} end
local b = tonumber(redis.call('HGET', base .. 'base', p) or '0')
if offset < b then offset = b end
local key = base .. 'p:' .. p
local out = {offset}
local total = 0
local i = offset - b
local last = i + limit - 1
local size = 16
while i <= last do
  local chunk = redis.call('LRANGE', key, i, math.min(i + size - 1, last))
  if #chunk == 0 then break end
  for _, item in ipairs(chunk) do
    total = total + #item + 64
    if #out > 1 and total > cap then return out end
    out[#out + 1] = item
  end
  i = i + #chunk
  -- Size the next chunk by what fits, so large messages are fetched a few at a time.
  size = math.max(1, math.min(256, math.floor((cap - total) / (total / (#out - 1))) + 1))
end
return out
"""

# ARGV: base, partitions, ret_count, ret_age. Partitions may only grow.
STREAM_CONFIGURE = """
local base = ARGV[1]
local cfg = base .. 'cfg'
local current = tonumber(redis.call('HGET', cfg, 'partitions') or '1')
if tonumber(ARGV[2]) < current then
  return redis.error_reply('FLOWMESH partitions: stream has ' .. current ..
    ', cannot shrink to ' .. ARGV[2])
end
redis.call('HSET', cfg, 'partitions', ARGV[2], 'ret_count', ARGV[3], 'ret_age', ARGV[4])
return 1
"""

# ARGV: base, now, delay, dedup id, window, random suffix, headers, payload,
# channel, topic, expected schema token, the 6 default policy fields, producer
# key ('' for none), its window (ms). Returns {id, seq, duplicate}; an
# idempotent producer's repeated key gets its first job (not a duplicate).
QUEUE_ENQUEUE = (
    _COMMON
    + """
local base, now, delay, dedup, window = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4],
  tonumber(ARGV[5])
local seen = nil
if ARGV[18] ~= '' then
  seen = base .. 'pid:' .. ARGV[18]
  local hit = redis.call('GET', seen)
  if hit then
    local id, seq = string.match(hit, '^([^:]+):(%d+)$')
    return {id, tonumber(seq), 0}
  end
end
local meta = base .. 'meta'
local bad = check_schema(meta, ARGV[11])
if bad then return bad end
ensure_queue(meta, {ARGV[12], ARGV[13], ARGV[14], ARGV[15], ARGV[16], ARGV[17]})
if dedup ~= '' then
  local expired = redis.call('ZRANGEBYSCORE', base .. 'dedupexp', '-inf', now, 'LIMIT', 0, 100)
  for _, d in ipairs(expired) do
    redis.call('HDEL', base .. 'dedup', d)
    redis.call('ZREM', base .. 'dedupexp', d)
  end
  local hit = redis.call('HGET', base .. 'dedup', dedup)
  if hit then
    local id, seq = string.match(hit, '^([^:]+):(%d+)$')
    return {id, tonumber(seq), 1}
  end
end
local seq = redis.call('HINCRBY', meta, 'next_seq', 1)
local id = string.format('%016x', seq) .. ARGV[6]
redis.call('HSET', base .. 'jobs', id,
  cjson.encode({seq = seq, att = 0, enq = now, hdr = ARGV[7], err = '', fail = 0}))
redis.call('HSET', base .. 'payloads', id, ARGV[8])
redis.call('ZADD', base .. 'ready', now + delay, id)
if dedup ~= '' then
  redis.call('HSET', base .. 'dedup', dedup, id .. ':' .. seq)
  redis.call('ZADD', base .. 'dedupexp', now + window, dedup)
end
if seen then redis.call('SET', seen, id .. ':' .. seq, 'PX', ARGV[19]) end
redis.call('PUBLISH', ARGV[9], ARGV[10])
return {id, seq, 0}
"""
)

# Moves in-flight jobs whose visibility ended back to ready, or to the DLQ
# when that was their last attempt.
_REAP = """
local function reap(base, now, max_att)
  local expired = redis.call('ZRANGEBYSCORE', base .. 'inflight', '-inf', now,
    'WITHSCORES', 'LIMIT', 0, 1000)
  for i = 1, #expired, 2 do
    local id, deadline = expired[i], expired[i + 1]
    redis.call('ZREM', base .. 'inflight', id)
    local m = cjson.decode(redis.call('HGET', base .. 'jobs', id))
    if max_att > 0 and m.att >= max_att then
      m.fail = now
      m.err = 'visibility timeout expired'
      redis.call('HSET', base .. 'jobs', id, cjson.encode(m))
      redis.call('ZADD', base .. 'dlq', now, id)
      redis.call('HINCRBY', base .. 'meta', 'failed', 1)
    else
      redis.call('ZADD', base .. 'ready', deadline, id)
    end
  end
end
"""

# ARGV: base, now, max jobs, visibility ms. Returns {next due (or -1), then
# per job: id, seq, attempts, enqueued at, headers, payload, due at}; {-2} if
# unknown.
QUEUE_RESERVE = (
    _REAP
    + """
local base, now, max, vis = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local meta = base .. 'meta'
if redis.call('EXISTS', meta) == 0 then return {-2} end
reap(base, now, tonumber(redis.call('HGET', meta, 'max_attempts')))
local ids = redis.call('ZRANGEBYSCORE', base .. 'ready', '-inf', now, 'WITHSCORES', 'LIMIT', 0, max)
local out = {-1}
for k = 1, #ids, 2 do
  local id = ids[k]
  redis.call('ZREM', base .. 'ready', id)
  local m = cjson.decode(redis.call('HGET', base .. 'jobs', id))
  m.att = m.att + 1
  redis.call('HSET', base .. 'jobs', id, cjson.encode(m))
  redis.call('ZADD', base .. 'inflight', now + vis, id)
  out[#out + 1] = id
  out[#out + 1] = m.seq
  out[#out + 1] = m.att
  out[#out + 1] = m.enq
  out[#out + 1] = m.hdr
  out[#out + 1] = redis.call('HGET', base .. 'payloads', id)
  out[#out + 1] = ids[k + 1]
end
local due = nil
for _, z in ipairs({'ready', 'inflight'}) do
  local first = redis.call('ZRANGE', base .. z, 0, 0, 'WITHSCORES')
  if #first > 0 and (due == nil or tonumber(first[2]) < due) then due = tonumber(first[2]) end
end
if due ~= nil then out[1] = due end
return out
"""
)

# ARGV: base, job id, window (ms). Returns 1, 2 when it was acked within the
# window already (a retried ack: key 'acked:<id>', expiring), or 0 when the job
# is not in flight; -2 unknown queue.
QUEUE_ACK = """
local base, id = ARGV[1], ARGV[2]
if redis.call('EXISTS', base .. 'meta') == 0 then return -2 end
if redis.call('ZREM', base .. 'inflight', id) == 0 then
  if redis.call('EXISTS', base .. 'acked:' .. id) == 1 then return 2 end
  return 0
end
redis.call('HDEL', base .. 'jobs', id)
redis.call('HDEL', base .. 'payloads', id)
redis.call('HINCRBY', base .. 'meta', 'completed', 1)
redis.call('SET', base .. 'acked:' .. id, 1, 'PX', ARGV[3])
return 1
"""

# ARGV: base, job id, now, delay (-1: backoff), error, channel, topic, then the
# jittered backoff for attempts 1..n. Returns 1 dead-lettered, 0 retried,
# -1 not in flight, -2 unknown queue.
QUEUE_NACK = """
local base, id, now, delay, err = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local meta = base .. 'meta'
if redis.call('EXISTS', meta) == 0 then return -2 end
if not redis.call('ZSCORE', base .. 'inflight', id) then return -1 end
redis.call('ZREM', base .. 'inflight', id)
local m = cjson.decode(redis.call('HGET', base .. 'jobs', id))
m.err = err
local max_att = tonumber(redis.call('HGET', meta, 'max_attempts'))
if max_att > 0 and m.att >= max_att then
  if err == '' then m.err = 'nacked on the last attempt' end
  m.fail = now
  redis.call('HSET', base .. 'jobs', id, cjson.encode(m))
  redis.call('ZADD', base .. 'dlq', now, id)
  redis.call('HINCRBY', meta, 'failed', 1)
  return 1
end
if delay < 0 then delay = tonumber(ARGV[math.min(7 + m.att, #ARGV)]) end
redis.call('HSET', base .. 'jobs', id, cjson.encode(m))
redis.call('ZADD', base .. 'ready', now + delay, id)
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 0
"""

# ARGV: base, now. Returns {pending, delayed, in flight, dlq, completed, failed,
# since when the longest-waiting due job is due (or -1), jobs ever enqueued};
# {-2} for an unknown queue.
QUEUE_STATS = (
    _REAP
    + """
local base, now = ARGV[1], tonumber(ARGV[2])
local meta = base .. 'meta'
if redis.call('EXISTS', meta) == 0 then return {-2} end
reap(base, now, tonumber(redis.call('HGET', meta, 'max_attempts')))
local first = redis.call('ZRANGEBYSCORE', base .. 'ready', '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)
local oldest = -1
if #first > 0 then oldest = tonumber(first[2]) end
return {
  redis.call('ZCOUNT', base .. 'ready', '-inf', now),
  redis.call('ZCOUNT', base .. 'ready', '(' .. now, '+inf'),
  redis.call('ZCARD', base .. 'inflight'),
  redis.call('ZCARD', base .. 'dlq'),
  tonumber(redis.call('HGET', meta, 'completed')),
  tonumber(redis.call('HGET', meta, 'failed')),
  oldest,
  tonumber(redis.call('HGET', meta, 'next_seq')),
}
"""
)

# ARGV: base, 6 policy fields.
QUEUE_SET_POLICY = (
    _COMMON
    + """
local meta = ARGV[1] .. 'meta'
ensure_queue(meta, {ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]})
redis.call('HSET', meta, 'max_attempts', ARGV[2], 'initial_backoff_ms', ARGV[3],
  'max_backoff_ms', ARGV[4], 'backoff_multiplier', ARGV[5], 'jitter', ARGV[6],
  'backoff_strategy', ARGV[7])
return 1
"""
)

# ARGV: base, limit, after score ("" = from the start), after id. The DLQ is
# ordered by (failure time, id); a page after (score, id) takes the ids tied at
# that score which sort after it, then the higher scores. Returns
# {id, meta json, payload}...; {-2} unknown queue.
QUEUE_LIST_DLQ = """
local base, limit = ARGV[1], tonumber(ARGV[2])
if redis.call('EXISTS', base .. 'meta') == 0 then return {-2} end
local dlq = base .. 'dlq'
local ids
if ARGV[3] == '' then
  ids = redis.call('ZRANGE', dlq, 0, limit - 1)
else
  ids = {}
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', dlq, ARGV[3], ARGV[3])) do
    if #ids < limit and id > ARGV[4] then ids[#ids + 1] = id end
  end
  if #ids < limit then
    local more = redis.call('ZRANGEBYSCORE', dlq, '(' .. ARGV[3], '+inf', 'LIMIT', 0, limit - #ids)
    for _, id in ipairs(more) do ids[#ids + 1] = id end
  end
end
local out = {}
for _, id in ipairs(ids) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', base .. 'jobs', id)
  out[#out + 1] = redis.call('HGET', base .. 'payloads', id)
end
return out
"""

# ARGV: base, job id, now, random suffix, channel, topic. Returns {id, seq};
# {-1} job not dead-lettered, {-2} unknown queue.
QUEUE_REPLAY = """
local base, old, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local meta = base .. 'meta'
if redis.call('EXISTS', meta) == 0 then return {-2} end
if redis.call('ZREM', base .. 'dlq', old) == 0 then return {-1} end
local m = cjson.decode(redis.call('HGET', base .. 'jobs', old))
local payload = redis.call('HGET', base .. 'payloads', old)
redis.call('HDEL', base .. 'jobs', old)
redis.call('HDEL', base .. 'payloads', old)
local seq = redis.call('HINCRBY', meta, 'next_seq', 1)
local id = string.format('%016x', seq) .. ARGV[4]
redis.call('HSET', base .. 'jobs', id,
  cjson.encode({seq = seq, att = 0, enq = now, hdr = m.hdr, err = '', fail = 0}))
redis.call('HSET', base .. 'payloads', id, payload)
redis.call('ZADD', base .. 'ready', now, id)
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {id, seq}
"""

# ARGV: base, start (inclusive '[' or exclusive '(' marker + key), end, limit.
# Returns live keys in order (up to limit + 1); {-2} unknown store. Keys whose
# value expired are dropped from the index on the way.
KV_LIST = """
local base, start, stop, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('EXISTS', base .. 'meta') == 0 then return {-2} end
local out = {}
while #out < limit + 1 do
  local keys = redis.call('ZRANGEBYLEX', base .. 'keys', start, stop, 'LIMIT', 0, limit + 1)
  if #keys == 0 then break end
  for _, k in ipairs(keys) do
    if redis.call('EXISTS', base .. 'v:' .. k) == 1 then
      out[#out + 1] = k
      if #out >= limit + 1 then break end
    else
      redis.call('ZREM', base .. 'keys', k)
    end
  end
  start = '(' .. keys[#keys]
end
return out
"""

# ---------------------------------------------------------------- schemas
# A tenant's schemas live under '<prefix>{fm:schema:<tenant>}:': 'ids' (set of
# schema ids), 'v:<id>' (hash version -> record json), 'u:<id>:<version>' (set
# of the resources that check writes against that version).

# ARGV: base, schema id, version (0: one above the latest), record json.
# Returns the version stored, or -1 when it exists already.
# ARGV: base, key, value, ttl ms (0: none). One script, so a cluster write is
# one command to confirm with WAIT.
KV_SET = """
local base = ARGV[1]
redis.call('SET', base .. 'meta', 1)
if tonumber(ARGV[4]) > 0 then
  redis.call('SET', base .. 'v:' .. ARGV[2], ARGV[3], 'PX', ARGV[4])
else
  redis.call('SET', base .. 'v:' .. ARGV[2], ARGV[3])
end
redis.call('ZADD', base .. 'keys', 0, ARGV[2])
return 1
"""

# ARGV: base, key. Returns 1 when the key existed.
KV_DELETE = """
local deleted = redis.call('DEL', ARGV[1] .. 'v:' .. ARGV[2])
redis.call('ZREM', ARGV[1] .. 'keys', ARGV[2])
return deleted
"""

# ARGV: base, group field ('<group>:<partition>'), offset.
STREAM_COMMIT = """
redis.call('HSETNX', ARGV[1] .. 'cfg', 'partitions', 1)
redis.call('HSET', ARGV[1] .. 'groups', ARGV[2], ARGV[3])
return 1
"""

# ARGV: base, partition, group field ('' for none). Returns {latest offset,
# committed offset or -1}; {-2} when the stream does not exist.
STREAM_OFFSETS = """
local base = ARGV[1]
if redis.call('EXISTS', base .. 'cfg') == 0 then return {-2} end
local first = tonumber(redis.call('HGET', base .. 'base', ARGV[2]) or '0')
local latest = first + redis.call('LLEN', base .. 'p:' .. ARGV[2]) - 1
local committed = -1
if ARGV[3] ~= '' then
  committed = tonumber(redis.call('HGET', base .. 'groups', ARGV[3]) or '-1')
end
return {latest, committed}
"""

SCHEMA_REGISTER = """
local base, id, v, doc = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local h = base .. 'v:' .. id
if v == 0 then
  for _, k in ipairs(redis.call('HKEYS', h)) do
    if tonumber(k) > v then v = tonumber(k) end
  end
  v = v + 1
elseif redis.call('HEXISTS', h, v) == 1 then
  return -1
end
redis.call('HSET', h, v, doc)
redis.call('SADD', base .. 'ids', id)
return v
"""

# ARGV: base, schema id, version. Returns {1} deleted, {0} no such version, or
# {-1, users...} while resources use it.
SCHEMA_DELETE = """
local base, id, v = ARGV[1], ARGV[2], ARGV[3]
local users = redis.call('SRANDMEMBER', base .. 'u:' .. id .. ':' .. v, 5)
if #users > 0 then
  table.insert(users, 1, -1)
  return users
end
local h = base .. 'v:' .. id
if redis.call('HDEL', h, v) == 0 then return {0} end
if redis.call('HLEN', h) == 0 then redis.call('SREM', base .. 'ids', id) end
return {1}
"""

# ARGV: base, schema id, version, fingerprint, user, 1 to add / 0 to remove.
# Adding checks the version is still the one registered: 1 ok, 0 gone.
SCHEMA_USE = """
local base, id, v, fp, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local users = base .. 'u:' .. id .. ':' .. v
if ARGV[6] == '0' then
  redis.call('SREM', users, user)
  return 1
end
local doc = redis.call('HGET', base .. 'v:' .. id, v)
if not doc or cjson.decode(doc).fingerprint ~= fp then return 0 end
redis.call('SADD', users, user)
return 1
"""

# ARGV: base, 'stream' or 'queue', token ('' detaches), then the 6 default
# policy fields (a queue is created with them). Returns the previous token.
RESOURCE_SET_SCHEMA = (
    _COMMON
    + """
local base, kind, token = ARGV[1], ARGV[2], ARGV[3]
local holder = base .. 'cfg'
if kind == 'queue' then
  holder = base .. 'meta'
  ensure_queue(holder, {ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]})
else
  redis.call('HSETNX', holder, 'partitions', 1)
end
local previous = redis.call('HGET', holder, 'schema') or ''
if token == '' then
  redis.call('HDEL', holder, 'schema')
else
  redis.call('HSET', holder, 'schema', token)
end
return previous
"""
)

# ---------------------------------------------------------------- replay
# Sessions live under '<prefix>{fm:replay}:': 'doc' (id -> json), 'rev' (id ->
# revision), 'grp' ('<stream path> <group>' -> id).

# ARGV: base, id, group field, json, revision. Returns 1, or 0 when the group is taken.
REPLAY_CREATE = """
local base, id = ARGV[1], ARGV[2]
if redis.call('HSETNX', base .. 'grp', ARGV[3], id) == 0 then return 0 end
redis.call('HSET', base .. 'doc', id, ARGV[4])
redis.call('HSET', base .. 'rev', id, ARGV[5])
return 1
"""

# ARGV: base, id, expected revision, json, channel, topic. Returns 1 saved, 0 stale.
REPLAY_UPDATE = """
local base, id, expected = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HGET', base .. 'rev', id) ~= expected then return 0 end
redis.call('HSET', base .. 'doc', id, ARGV[4])
redis.call('HSET', base .. 'rev', id, tonumber(expected) + 1)
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
"""

# ARGV: base, id, group field, channel, topic. Returns 1 deleted, 0 unknown.
REPLAY_DELETE = """
local base, id, field = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HDEL', base .. 'doc', id) == 0 then return 0 end
redis.call('HDEL', base .. 'rev', id)
if redis.call('HGET', base .. 'grp', field) == id then redis.call('HDEL', base .. 'grp', field) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
"""
