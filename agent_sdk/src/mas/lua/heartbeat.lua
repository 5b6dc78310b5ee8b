-- Refresh the liveness of one agent instance; reactivate the agent if it was marked INACTIVE.
-- KEYS[1] agent record hash  KEYS[2] agent heartbeat string
-- KEYS[3] set of instance ids  KEYS[4] this instance's liveness string
-- ARGV[1] heartbeat TTL (ms)  ARGV[2] instance id  ARGV[3] now (epoch s)
-- Returns 1 refreshed, 2 refreshed and reactivated, -1 revoked, -2 record missing.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return -2
end
if status == 'REVOKED' then
  return -1
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('SET', KEYS[4], ARGV[3], 'PX', ARGV[1])
if status ~= 'ACTIVE' then
  redis.call('HSET', KEYS[1], 'status', 'ACTIVE')
  return 2
end
return 1
