-- Mark an agent INACTIVE if it is ACTIVE, its heartbeat lapsed and its grace period is over.
-- KEYS[1] agent record hash  KEYS[2] agent heartbeat string
-- ARGV[1] latest registered_at (epoch s) still inside the grace period
-- Returns 1 when the status changed, else 0.
if redis.call('HGET', KEYS[1], 'status') ~= 'ACTIVE' then
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
local registered = tonumber(redis.call('HGET', KEYS[1], 'registered_at') or '0') or 0
if registered > tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'status', 'INACTIVE')
return 1
