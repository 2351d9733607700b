-- every call with hostile arguments: each in pcall, so all are tried
local big = string.rep("x", 100000)
local bad = {"", "a\r\nb", "a\rb", "a\nb", "a\0b", "Name:", ":", big, "\255\254", " "}
local nums = {-1, 0, 1, 2, 3, 1000, 2^31, 2^32, 2^63, -2^63, 1/0, -1/0, 0/0, 1.5}
local odd = {nil, true, {}, function() end, 1, "1"}
local function each(f)
    for _, a in ipairs(bad) do pcall(f, a) end
    for _, a in ipairs(nums) do pcall(f, a) end
    for i = 1, 6 do pcall(f, odd[i]) end
end
local function all(ctx)
    local m = {"get", "mail_param", "rcpt_param", "rcpt", "config", "config_list",
        "header", "header_get", "part_info", "parts", "part_content", "raw", "kv_get",
        "kv_set", "reply", "header_add", "header_insert", "header_change",
        "header_delete", "rcpt_add", "rcpt_delete", "sender_change", "part_replace",
        "part_remove", "part_add", "text_append", "footer", "note", "log"}
    for _, name in ipairs(m) do
        local f = ctx[name]
        pcall(f); pcall(f, ctx)
        each(function(a) return f(ctx, a) end)
        each(function(a) return f(ctx, a, a) end)
        each(function(a) return f(ctx, 1, a, a) end)
        each(function(a) return f(ctx, a, "x", a, a) end)
        pcall(f, {}, 1); pcall(f, nil, 1)
    end
end
return {
    connect = all, helo = all, mail = all, data = all, eom = all,
    rcpt = function(ctx, addr) all(ctx) end,
    abort = function(ctx, closing) all(ctx) end,
}
