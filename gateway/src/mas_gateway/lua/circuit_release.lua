-- Release the oldest parked deliveries of one target into its inbox, in order, audited.
--
-- KEYS[1]  the parked queue agent.parked:{target}
-- KEYS[2]  the inbox agent.stream:{target}
-- KEYS[3]  the circuit hash mas.circuit:{target}
-- KEYS[4]  the audit log of the released entries' senders' shard (the caller groups them)
-- ARGV[1]  probes allowed while half-open (in total for this half-open period)
-- ARGV[2]  name of the parked entries' metadata field (not copied to the inbox)
-- ARGV[3..] pairs: parked entry id, its audit entry ("released"), oldest first
--
-- An entry moves only while it is the oldest in the queue, so gateways releasing at
-- the same time never move one twice nor out of order: a gateway whose view is stale
-- moves nothing. Nothing moves while the circuit is open; while it is half-open, at
-- most ARGV[1] entries in all. Returns the number of entries moved.

local state = redis.call('HGET', KEYS[3], 'state')
if state == 'open' then
  return 0
end
local budget = (#ARGV - 2) / 2
local probes = tonumber(redis.call('HGET', KEYS[3], 'probes') or '0') or 0
if state == 'half_open' then
  budget = math.min(budget, math.max(0, tonumber(ARGV[1]) - probes))
end

local moved = 0
for i = 1, budget do
  local id = ARGV[1 + 2 * i]
  local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
  if #head == 0 or head[1][1] ~= id then
    break
  end
  local fields = {}
  local stored = head[1][2]
  for j = 1, #stored, 2 do
    if stored[j] ~= ARGV[2] then
      fields[#fields + 1] = stored[j]
      fields[#fields + 1] = stored[j + 1]
    end
  end
  redis.call('XADD', KEYS[2], '*', unpack(fields))
  redis.call('XDEL', KEYS[1], id)
  redis.call('XADD', KEYS[4], '*', 'entry', ARGV[2 + 2 * i])
  moved = moved + 1
end

if moved > 0 and state then
  local released = tonumber(redis.call('HGET', KEYS[3], 'released') or '0') or 0
  redis.call('HSET', KEYS[3], 'released', tostring(released + moved))
  if state == 'half_open' then
    redis.call('HSET', KEYS[3], 'probes', tostring(probes + moved))
  end
  -- a new revision: a gateway that read the circuit before this release writes nothing
  local rev = tonumber(redis.call('HGET', KEYS[3], 'rev') or '0') or 0
  redis.call('HSET', KEYS[3], 'rev', tostring(rev + 1))
end
return moved
