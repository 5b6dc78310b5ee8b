-- Register an agent's own key, only if the registry holds no key for it yet.
-- KEYS[1] agent record hash  KEYS[2] set of all agent ids
-- ARGV[1] agent id  ARGV[2] public key (base64)  ARGV[3] key id  ARGV[4] token hash
-- ARGV[5] now (epoch s)
-- Returns 1 when the key was registered, else the public key already registered.
local existing = redis.call('HGET', KEYS[1], 'public_key')
if existing then
  return existing
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'public_key', ARGV[2], 'key_id', ARGV[3],
  'token_hash', ARGV[4], 'provisioned_by', 'self')
if redis.call('HEXISTS', KEYS[1], 'status') == 0 then
  redis.call('HSET', KEYS[1], 'status', 'INACTIVE', 'registered_at', ARGV[5],
    'capabilities', '[]', 'metadata', '{}')
end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
