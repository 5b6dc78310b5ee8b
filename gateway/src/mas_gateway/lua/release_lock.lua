-- Release the checkpoint lock only if this holder still owns it.
--
-- KEYS[1]  the lock key
-- ARGV[1]  the holder's random token
--
-- Returns 1 when released, 0 when the lock expired or now belongs to another holder
-- (deleting it then would let two checkpointers run at once).

if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
