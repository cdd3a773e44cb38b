-- ARGV[7..]: job id, reason, cancel-key ttl ms. Returns cancelled, signalled, finished or missing.
return cancel(ARGV[7], ARGV[8], tonumber(ARGV[9]), 0)
