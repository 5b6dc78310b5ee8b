-- Register one running instance of an agent and mark the agent ACTIVE.
-- KEYS[1] agent record hash          KEYS[2] set of all agent ids
-- KEYS[3] agent heartbeat string     KEYS[4] set of the agent's instance ids
-- KEYS[5] this instance's liveness   KEYS[6 .. 5+n] capability index sets to join
-- KEYS[6+n ..] capability index sets to leave (capabilities the agent no longer has)
-- ARGV[1] agent id  ARGV[2] capabilities JSON  ARGV[3] metadata JSON  ARGV[4] now (epoch s)
-- ARGV[5] heartbeat TTL (ms)  ARGV[6] instance id  ARGV[7] n (number of capabilities to join)
-- Returns 1 when registered, -1 when the agent is REVOKED (nothing is changed).
if redis.call('HGET', KEYS[1], 'status') == 'REVOKED' then
  return -1
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'capabilities', ARGV[2], 'metadata', ARGV[3],
  'status', 'ACTIVE', 'registered_at', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[6], 'PX', ARGV[5])
redis.call('SADD', KEYS[4], ARGV[6])
redis.call('SET', KEYS[5], ARGV[4], 'PX', ARGV[5])
local n = tonumber(ARGV[7])
for i = 6, 5 + n do
  redis.call('SADD', KEYS[i], ARGV[1])
end
for i = 6 + n, #KEYS do
  redis.call('SREM', KEYS[i], ARGV[1])
end
return 1
