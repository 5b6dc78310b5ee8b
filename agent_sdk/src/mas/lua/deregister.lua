-- Remove one instance; mark the agent INACTIVE when no other live instance remains.
-- KEYS[1] agent record hash  KEYS[2] agent heartbeat string  KEYS[3] set of instance ids
-- KEYS[4] this instance's liveness string  KEYS[5 ..] liveness strings of the other instances
-- ARGV[1] this instance id  ARGV[2 ..] ids of the other instances, in KEYS order
-- Returns 1 when the agent became INACTIVE, 0 when other instances keep it ACTIVE.
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[4])
for i = 5, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('SREM', KEYS[3], ARGV[i - 3])
  end
end
if redis.call('SCARD', KEYS[3]) > 0 then
  return 0
end
redis.call('DEL', KEYS[2])
if redis.call('HGET', KEYS[1], 'status') == 'ACTIVE' then
  redis.call('HSET', KEYS[1], 'status', 'INACTIVE')
end
return 1
