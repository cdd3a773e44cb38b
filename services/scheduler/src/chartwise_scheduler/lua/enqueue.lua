-- ARGV[7..]: id, queue, name, run json, due ms, max attempts, done count, done age, fail count, fail age,
-- parent id, schedule id.
local a = ARGV
return create_job(a[7], a[8], a[9], a[10], tonumber(a[11]), a[12], a[13], a[14], a[15], a[16], a[17], a[18])
