-- dlp.lua - outbound mail that holds payment card numbers or words and
-- patterns of the organisation's own
--
-- The text of the message (the Subject, every text/* part and text
-- attachment, transfer encoding undone and converted to UTF-8 by sinkd)
-- is searched for card numbers (13 to 19 digits, whole or in groups
-- parted by single spaces or dashes, Luhn-valid, by default with a known
-- issuer prefix and length), for the words of the words key and for the
-- Lua patterns of the patterns key.  What is found is rejected,
-- quarantined or tagged, per domain; the header field and the log name
-- what was found with card numbers masked to their last four digits,
-- never whole.  See sinkd-sinks(7).
--
--	[sink:dlp]
--	script = sinks/dlp.lua
--	action = reject
--	words = confidential, internal only

local ACTIONS = {reject = true, quarantine = true, tag = true}
local SHOWN = 5		-- findings named in the header field and log

-- luhn(d): the digit string passes the Luhn check
local function luhn(d)
	local sum, alt = 0, false
	for i = #d, 1, -1 do
		local n = d:byte(i) - 48
		if alt then
			n = n * 2
			if n > 9 then
				n = n - 9
			end
		end
		sum = sum + n
		alt = not alt
	end
	return sum % 10 == 0
end

-- issuer(d): the card scheme whose prefix and length d has, or nil
local function issuer(d)
	local n = #d
	local p2, p3, p4 = tonumber(d:sub(1, 2)), tonumber(d:sub(1, 3)), tonumber(d:sub(1, 4))
	local p6 = tonumber(d:sub(1, 6))
	if d:sub(1, 1) == "4" and (n == 13 or n == 16 or n == 19) then
		return "visa"
	elseif ((p2 >= 51 and p2 <= 55) or (p4 >= 2221 and p4 <= 2720)) and n == 16 then
		return "mastercard"
	elseif (p2 == 34 or p2 == 37) and n == 15 then
		return "amex"
	elseif (p4 == 6011 or p2 == 65 or (p3 >= 644 and p3 <= 649)
		or (p6 >= 622126 and p6 <= 622925)) and n >= 16 and n <= 19 then
		return "discover"
	elseif (p2 == 36 or p2 == 38 or p2 == 39 or (p3 >= 300 and p3 <= 305))
		and n >= 14 and n <= 19 then
		return "diners"
	elseif p4 >= 3528 and p4 <= 3589 and n >= 16 and n <= 19 then
		return "jcb"
	elseif p2 == 62 and n >= 16 and n <= 19 then
		return "unionpay"
	elseif (p2 == 50 or (p2 >= 56 and p2 <= 69)) and n >= 13 and n <= 19 then
		return "maestro"
	end
	return nil
end

-- cards(text, prefixes, found): add the card numbers of text to found,
-- masked.  A number is a run of digit groups parted by one space or dash;
-- a card is a stretch of such a run: a group of 13 to 19 digits, or
-- groups of 3 to 6 digits the first of which has 4, 13 to 19 in all.
local function cards(text, prefixes, found)
	for run in text:gmatch("%d[%d %-]*") do
		local groups = {}
		for g in run:gmatch("%d+") do
			groups[#groups + 1] = g
		end
		-- groups parted by more than one character belong to other runs
		local parts = {}
		local cur = {}
		local pos = 1
		for i, g in ipairs(groups) do
			local s, e = run:find(g, pos, true)
			if i > 1 and s - pos > 1 then
				parts[#parts + 1] = cur
				cur = {}
			end
			cur[#cur + 1] = g
			pos = e + 1
		end
		parts[#parts + 1] = cur
		for _, gs in ipairs(parts) do
			for i = 1, #gs do
				local d = gs[i]
				if #d >= 13 and #d <= 19 then
					-- one group: the whole number
				elseif #d == 4 then
					for j = i + 1, #gs do
						if #gs[j] < 3 or #gs[j] > 6 or #d + #gs[j] > 19 then
							break
						end
						d = d .. gs[j]
						if #d >= 13 and luhn(d)
						    and (not prefixes or issuer(d)) then
							break
						end
					end
				else
					d = ""
				end
				if #d >= 13 and #d <= 19 and luhn(d)
				    and (not prefixes or issuer(d)) then
					local what = "card " .. (issuer(d) or "number") .. " ****" .. d:sub(-4)
					if not found[what] then
						found[what] = true
						found[#found + 1] = what
					end
				end
			end
		end
	end
end

-- escape(s): s as a Lua pattern matching itself
local function escape(s)
	return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

-- pattern_error(p): why the Lua pattern p is malformed, or nil (Lua
-- itself says so only when a match reaches the fault)
local function pattern_error(p)
	local i, n, depth = 1, #p, 0
	while i <= n do
		local c = p:sub(i, i)
		if c == "%" then
			local d = p:sub(i + 1, i + 1)
			if d == "" then
				return "malformed pattern (ends with '%')"
			elseif d == "b" then
				if i + 3 > n then
					return "missing arguments to '%b'"
				end
				i = i + 4
			elseif d == "f" then
				if p:sub(i + 2, i + 2) ~= "[" then
					return "missing '[' after '%f' in pattern"
				end
				i = i + 2
			else
				i = i + 2
			end
		elseif c == "[" then
			local j = i + 1
			if p:sub(j, j) == "^" then
				j = j + 1
			end
			repeat
				if j > n then
					return "malformed pattern (missing ']')"
				end
				j = j + (p:sub(j, j) == "%" and 2 or 1)
			until p:sub(j, j) == "]"
			i = j + 1
		elseif c == "(" then
			depth = depth + 1
			i = i + 1
		elseif c == ")" then
			depth = depth - 1
			if depth < 0 then
				return "invalid pattern capture"
			end
			i = i + 1
		else
			i = i + 1
		end
	end
	if depth ~= 0 then
		return "unfinished capture"
	end
	return nil
end

-- search(ctx, text, found): what the text holds, added to found
local function search(ctx, text, found)
	if ctx:config("cards") == "yes" then
		cards(text, ctx:config("card-prefixes") == "yes", found)
	end
	local words = ctx:config_list("words")
	local low = #words > 0 and text:lower() or ""
	for _, w in ipairs(words) do
		local what = "word \"" .. w .. "\""
		if not found[what]
		    and low:find("%f[%w]" .. escape(w:lower()) .. "%f[%W]") then
			found[what] = true
			found[#found + 1] = what
		end
	end
	for _, p in ipairs(ctx:config_list("patterns")) do
		local what = "pattern \"" .. p .. "\""
		local ok, at = pcall(string.find, text, p)
		if not ok then
			error("patterns: " .. p .. ": " .. tostring(at))
		end
		if at and not found[what] then
			found[what] = true
			found[#found + 1] = what
		end
	end
end

-- text_of(ctx, i, info, max): the text of part i, HTML tags made spaces
local function text_of(ctx, i, info, max)
	local t = ctx:part_content(i, true, max)
	if t and info.type == "text/html" then
		t = t:gsub("<[^<>]*>", " "):gsub("&nbsp;", " "):gsub("&#160;", " ")
	end
	return t
end

return {
	name = "dlp",
	keys = {
		{name = "action", type = "string", default = "reject",
		 doc = "what a message with a finding gets: reject, quarantine or tag"},
		{name = "cards", type = "bool", default = true,
		 doc = "look for payment card numbers (Luhn-valid, 13 to 19 digits)"},
		{name = "card-prefixes", type = "bool", default = true,
		 doc = "only card numbers with a known issuer prefix and length"},
		{name = "words", type = "list", default = "", merge = "union",
		 doc = "words that keep a message in (whole words, any case)"},
		{name = "patterns", type = "list", default = "", merge = "union",
		 doc = "Lua patterns that keep a message in"},
		{name = "header", type = "string", default = "X-DLP",
		 doc = "the header field naming what was found (tag, quarantine)"},
		{name = "reply", type = "reply",
		 default = "550 5.7.1 Message not sent: it holds data that may not leave the organisation",
		 doc = "the reply of reject"},
		{name = "max-scan", type = "size", default = "4m", merge = "min",
		 doc = "bytes of each part searched"},
		-- sinkd's own key (sinkd-policy(5)), declared for its default only
		{name = "direction", type = "string", default = "outbound"},
	},
	init = function(ctx)
		if not ACTIONS[ctx:config("action")] then
			return false, "action: '" .. ctx:config("action")
				.. "' is not reject, quarantine or tag"
		end
		if not ctx:config("header"):match("^[!-9;-~]+$") then
			return false, "header: '" .. ctx:config("header") .. "' is not a header field name"
		end
		for _, p in ipairs(ctx:config_list("patterns")) do
			local why = pattern_error(p)
			if why == nil then
				local ok, err = pcall(string.find, "", p)
				why = not ok and tostring(err) or nil
			end
			if why then
				return false, "patterns: " .. p .. ": " .. why
			end
		end
		return true
	end,
	eom = function(ctx)
		local action = ctx:config("action")
		if not ACTIONS[action] then
			error("action: '" .. tostring(action) .. "' is not reject, quarantine or tag")
		end
		local max = ctx:config("max-scan"):lower()
		max = tonumber(max:match("^%d+")) * (({k = 1024, m = 1048576, g = 1073741824})[max:match("[kmg]$")] or 1)
		local found = {}
		search(ctx, ctx:header_get("Subject") or "", found)
		for _, info in ipairs(ctx:parts()) do
			if not info.multipart and not info.message and not info.encrypted
			    and info.type:match("^text/") then
				local t = text_of(ctx, info.index, info, max)
				if t then
					search(ctx, t, found)
				end
			end
		end
		if #found == 0 then
			return
		end
		local shown = {}
		for i = 1, math.min(#found, SHOWN) do
			shown[i] = found[i]
		end
		local what = table.concat(shown, ", ")
		if #found > SHOWN then
			what = what .. ", and " .. (#found - SHOWN) .. " more"
		end
		what = what:gsub("%c", " ")
		ctx:note("found", what)
		ctx:log("found " .. what .. ": " .. action)
		if action == "reject" then
			return "reject", ctx:config("reply")
		end
		local h = ctx:config("header")
		if not ctx:header_add(h, what) then
			error("header: '" .. h .. "' is not a header field name")
		end
		if action == "quarantine" then
			return "quarantine"
		end
	end,
}
