-- verdicts and replies, good and bad, by the subject
return {
    eom = function(ctx)
        local s = ctx:header_get("Subject") or ""
        local n = #s % 12
        if n == 0 then return "reject", "550", "5.7.1", "no" end
        if n == 1 then return "tempfail", "451 4.7.1 later" end
        if n == 2 then return "reject", "451", nil, "wrong class" end
        if n == 3 then return "reject", "550", "5.7.1", "a\r\nb" end
        if n == 4 then return "discard" end
        if n == 5 then return "quarantine" end
        if n == 6 then return "accept" end
        if n == 7 then return "bogus" end
        if n == 8 then return 42 end
        if n == 9 then error("failed on purpose") end
        if n == 10 then return sinkd.ERROR end
        ctx:reply("550", "5.7.1", string.rep("long ", 300))
        return "reject"
    end,
}
