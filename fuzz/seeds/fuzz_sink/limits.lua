-- the limits: instructions, memory, a context kept past its hook
local kept
return {
    mail = function(ctx) kept = ctx end,
    data = function(ctx)
        local t = {}
        for i = 1, 1e9 do t[i] = string.rep("m", 1000) end
    end,
    eom = function(ctx)
        pcall(function() return kept:get("sender") end)
        while true do end
    end,
}
