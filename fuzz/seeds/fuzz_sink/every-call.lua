-- every hook, and every call of the context with sensible arguments
local seen = {}
return {
    name = "every",
    keys = {
        {name = "words", type = "list", default = "a, b", doc = "words", merge = "union"},
        {name = "flag", type = "bool", default = "no", merge = "any"},
        {name = "count", type = "int", default = "3", merge = "min"},
        {name = "size", type = "size", default = "1m"},
        {name = "wait", type = "time", default = "2s"},
        {name = "file", type = "path", default = ""},
        {name = "refusal", type = "reply", default = "550 5.7.1 no"},
        {name = "text"},
    },
    init = function(ctx)
        return ctx:config("words") ~= nil, "no words"
    end,
    reload = function() end,
    shutdown = function() end,
    connect = function(ctx)
        seen[#seen + 1] = ctx:get("client.addr")
        ctx:get("client.name"); ctx:get("client.port"); ctx:get("policy")
        ctx:config_list("words"); ctx:config_list("words", 1)
    end,
    helo = function(ctx) ctx:get("helo") end,
    mail = function(ctx)
        ctx:get("sender"); ctx:mail_param(); ctx:mail_param(1)
        ctx:kv_set("k", "v")
    end,
    rcpt = function(ctx, addr)
        ctx:rcpt_param(); ctx:rcpt_param(1); ctx:kv_get("k")
        if addr == "other@example.org" then return "reject", "550", "5.1.1", "no such user" end
    end,
    data = function(ctx) ctx:rcpt(); ctx:rcpt(1); ctx:get("rcpt-count") end,
    unknown = function(ctx, cmd) return "reject" end,
    eom = function(ctx)
        for i, h in ipairs(ctx:header()) do ctx:header(i) end
        ctx:header_get("Subject"); ctx:header_get("X-Spam", 2)
        for _, p in ipairs(ctx:parts()) do
            local info = ctx:part_info(p.index)
            ctx:part_content(p.index); ctx:part_content(p.index, true, 10)
        end
        ctx:raw(); ctx:get("size"); ctx:get("queue-id"); ctx:get("direction")
        ctx:get("macro.j"); ctx:get("dry-run")
        ctx:header_add("X-Sink", "checked")
        ctx:header_insert(1, "X-First", "first")
        ctx:header_change("X-Spam", 1, "changed")
        ctx:header_delete("X-Spam", 2)
        ctx:rcpt_add("added@example.org"); ctx:rcpt_delete("rcpt@example.org")
        ctx:sender_change("new@example.net")
        ctx:text_append(1, "appended")
        ctx:footer("a footer line of some length", "<p>a footer</p>")
        ctx:part_replace(2, "text/plain; charset=utf-8", "new.txt", "new content")
        ctx:part_add("application/octet-stream", "x.bin", "\0\1\2")
        ctx:part_remove(2, "removed")
        ctx:note("seen", table.concat(seen, ","))
        ctx:log("info", "eom ran"); ctx:log("text alone")
        ctx:reply("550", "5.7.1", "not now")
        return sinkd.CONTINUE
    end,
    abort = function(ctx, closing) ctx:get("queue-id") end,
}
