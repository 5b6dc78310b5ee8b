-- Commit one outbox entry: acknowledge it and append everything it produced, atomically.
--
-- KEYS[1]      the outbox stream the entry came from
-- KEYS[2..n]   streams to append one entry each to (delivery or rejection notice,
--              audit entry, dead letter), in that order
-- ARGV[1]      consumer group
-- ARGV[2]      outbox entry id
-- ARGV[3]      consumer name that must still own the entry
-- ARGV[4]      "1" when the entry's owner deleted it after this gateway read it (its
--              claim was dropped then): it is committed unless another consumer holds it
-- ARGV[5..]    for each of KEYS[2..n]: a field count c, then c field/value pairs
--              (2*c arguments)
-- optional     the word "divert", then field groups for KEYS[n+1..m] in the same way:
--              an alternative plan whose first stream is the target's parked queue.
--              When that queue is not empty, the alternative is written instead, so a
--              delivery never overtakes a message parked before it (returns 2).
--
-- Returns 1 when committed, 0 when the entry is no longer pending for this consumer
-- (another gateway took it over after a stall): nothing is written then, so a
-- forward happens exactly once. A script runs atomically, like MULTI/EXEC, and can
-- also check ownership first, which MULTI/EXEC cannot. An agent that trims its own
-- outbox cannot make a decision disappear: what was read is committed and audited.

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

local pos = 5
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
local first = 2
local result = 1
if ARGV[pos] == 'divert' then
  pos = pos + 1
  local parked = #plan + 2
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
