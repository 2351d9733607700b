-- sink-calls.lua - fuzz_sink's interpreter of a sequence of API calls
--
-- fuzz_sink runs this script for an input that begins with a NUL byte,
-- the rest of the input as the string prog (a line before this text).
-- In each hook, prog is read as calls: a byte picks the context method,
-- one more how many arguments it gets (up to 5), and one each picks the
-- argument from the pool below (or nil), or a piece of prog itself; every call is
-- made in pcall, so one that raises an error does not stop the others.
-- The hook's verdict is picked by the last byte.
local methods = {"get", "mail_param", "rcpt_param", "rcpt", "config",
    "config_list", "header", "header_get", "part_info", "parts",
    "part_content", "raw", "kv_get", "kv_set", "reply", "header_add",
    "header_insert", "header_change", "header_delete", "rcpt_add",
    "rcpt_delete", "sender_change", "part_replace", "part_remove",
    "part_add", "text_append", "footer", "note", "log", "wrap"}
local huge = string.rep("h", 70000)
local pool = {true, false, {}, -1, 0, 1, 2, 3, 4, 1000,
    math.maxinteger, math.mininteger, 0 / 0, 1 / 0, 1.5, "", "a", "Subject",
    "X-Spam", "From", "a\r\nb", "a\rb", "a\nb", "a\0b", huge, "550", "451",
    "5.7.1", "4.7.1", "text/plain", "text/html; charset=utf-8",
    "multipart/mixed", "rcpt@example.org", "<a@example.org>",
    "client.addr", "sender", "size", "words", "x.bin", "debug", "warning",
    "error", "\255\254", "=?utf-8?q?x?=", " ", ":", "550 5.7.1 no"}
local verdicts = {"continue", "accept", "reject", "tempfail",
    "discard", "quarantine", "error", "bogus", 7}
local kept

local function arg(i)
    local b = prog:byte(i) or 0
    if b < 200 then
        return pool[b % (#pool + 1)], i + 1	-- 0: nil
    end
    local n = prog:byte(i + 1) or 0
    return prog:sub(i + 2, i + 1 + n), i + 2 + n
end

local function run(ctx)
    local i = 1
    while i <= #prog do
        local f = ctx[methods[prog:byte(i) % #methods + 1]]
        local n = (prog:byte(i + 1) or 0) % 6
        local args = {}
        i = i + 2
        for k = 1, n do
            args[k], i = arg(i)
        end
        pcall(f, ctx, table.unpack(args, 1, n))
    end
    if (prog:byte(1) or 0) % 17 == 0 and kept then
        pcall(kept.get, kept, "sender")
    end
    kept = ctx
    return verdicts[(prog:byte(#prog) or 0) % (#verdicts + 1)]	-- 0: nil
end

return {
    name = "calls",
    keys = {{name = "words", type = "list", default = "a, b"}},
    init = function(ctx) run(ctx); return true end,
    connect = run, helo = run, mail = run, data = run, eom = run,
    rcpt = function(ctx, addr) return run(ctx) end,
    abort = function(ctx, closing) run(ctx) end,
}
