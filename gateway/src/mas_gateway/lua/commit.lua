-- Commit one outbox entry: acknowledge it and append everything it produced, atomically.
--
-- KEYS[1]      the outbox stream the entry came from
-- KEYS[2]      when ARGV[5] > 0: the marker of the sender's message id (same slot as
--              KEYS[1]), set with that TTL in ms: a message id is forwarded once
-- KEYS[m..n]   streams to append one entry each to (delivery or rejection notice,
--              audit entry, dead letter), in that order (m = 3 with a marker, else 2)
-- ARGV[1]      consumer group
-- ARGV[2]      outbox entry id
-- ARGV[3]      consumer name that must still own the entry
-- ARGV[4]      "1" when the entry's owner deleted it after this gateway read it (its
--              claim was dropped then): it is committed unless another consumer holds it
-- ARGV[5]      marker TTL in ms, "0" when the entry forwards nothing
-- ARGV[6..]    for each of KEYS[m..n]: a field count c, then c field/value pairs
--              (2*c arguments)
-- optional     the word "divert", then field groups for KEYS[n+1..] in the same way:
--              an alternative plan whose first stream is the target's parked queue.
--              When that queue is not empty, the alternative is written instead, so a
--              delivery never overtakes a message parked before it (returns 2).
--
-- Returns 1 when committed, 2 when committed as parked behind earlier parked messages,
-- 3 when the message id was forwarded meanwhile (a copy committed by another gateway:
-- the entry is acknowledged, nothing else is written), 0 when the entry is no longer
-- pending for this consumer (another gateway took it over after a stall): nothing is
-- written then, so a forward happens exactly once. A script runs atomically, like
-- MULTI/EXEC, and can also check ownership first, which MULTI/EXEC cannot. An agent
-- that trims its own outbox cannot make a decision disappear: what was read is
-- committed and audited.

local owned = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[3])
if #owned == 0 then
  if ARGV[4] ~= '1' then
    return 0
  end
  local held = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
  if #held > 0 then
    return 0
  end
end

local first = 2
local marker_ttl = tonumber(ARGV[5])
if marker_ttl > 0 then
  first = 3
  if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', marker_ttl) then
    redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
    redis.call('XDEL', KEYS[1], ARGV[2])
    return 3
  end
end

local pos = 6
local function groups()
  local plan = {}
  while pos <= #ARGV and ARGV[pos] ~= 'divert' do
    local count = tonumber(ARGV[pos])
    pos = pos + 1
    local fields = {}
    for j = 0, 2 * count - 1 do
      fields[#fields + 1] = ARGV[pos + j]
    end
    pos = pos + 2 * count
    plan[#plan + 1] = fields
  end
  return plan
end

local plan = groups()
local result = 1
if ARGV[pos] == 'divert' then
  pos = pos + 1
  local parked = first + #plan
  if redis.call('XLEN', KEYS[parked]) > 0 then
    plan = groups()
    first = parked
    result = 2
  end
end
for i, fields in ipairs(plan) do
  redis.call('XADD', KEYS[first + i - 1], '*', unpack(fields))
end

redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return result
