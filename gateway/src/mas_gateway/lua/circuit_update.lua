-- Write a target's circuit state if nobody changed it since it was read (compare and set).
--
-- KEYS[1]  the circuit hash mas.circuit:{target}
-- ARGV[1]  the revision read ("" when the hash did not exist)
-- ARGV[2]  "set": field/value pairs follow; "delete": remove the hash
-- ARGV[3..] field/value pairs
--
-- Several gateways evaluate the same circuits: the first to write a revision wins, the
-- others see 0 and evaluate again from the new state on their next poll.

local rev = redis.call('HGET', KEYS[1], 'rev') or ''
if rev ~= ARGV[1] then
  return 0
end
if ARGV[2] == 'delete' then
  redis.call('DEL', KEYS[1])
  return 1
end
local fields = {}
for i = 3, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
fields[#fields + 1] = 'rev'
fields[#fields + 1] = tostring((tonumber(rev) or 0) + 1)
redis.call('HSET', KEYS[1], unpack(fields))
return 1
