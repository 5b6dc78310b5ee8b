-- Token bucket, atomic and shared by every gateway process.
--
-- KEYS[1]  bucket hash (fields: tokens, ts) of one agent
-- ARGV[1]  refill rate, tokens per second (float > 0)
-- ARGV[2]  burst: bucket capacity (float >= 1)
-- ARGV[3]  tokens this message costs (normally 1)
--
-- Time comes from the Redis server (TIME), so gateways with skewed clocks agree.
-- Returns {allowed (1|0), retry_after_ms, tokens_left_x1000}.

local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])

local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000

local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end

local elapsed = math.max(0, now - ts)
tokens = math.min(burst, tokens + elapsed * rate)

local allowed = 0
local retry_ms = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_ms = math.ceil((cost - tokens) / rate * 1000)
end

redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
-- An idle bucket refills completely after burst / rate seconds; keep it a little longer.
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, retry_ms, math.floor(tokens * 1000)}
