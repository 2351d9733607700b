-- display-name-spoof.lua - mail from outside that wears an internal name
--
-- A message whose From display name is the name of someone of this
-- organisation (a line of the names file) while its address is outside
-- the internal domains is tagged (a header field, and optionally a
-- Subject prefix) or refused, per domain.  See sinkd-sinks(7).
--
--	[sink:spoof]
--	script = sinks/display-name-spoof.lua
--	names = sinks/internal-names
--	action = tag
--
-- Names are compared after normalising both sides: RFC 2047 words
-- decoded (sinkd's decoded header value), quotes, backslashes and
-- zero-width characters removed, white space (tabs, no-break spaces)
-- collapsed, ASCII letters in lower case, "Last, First" read as
-- "First Last"; a name followed by "via ..." or "(via ...)" counts as
-- the name.  A
-- display name holding an internal address ("alice@example.com"
-- <x@elsewhere.test>) is a hit as well.

local ACTIONS = {tag = true, reject = true}
local FROM_MAX = 2000	-- bytes of From looked at

-- the names files read by this Lua state, by path (a reload makes new
-- states, which read the files again)
local lists = {}

-- norm(s): a name as compared
local function norm(s)
	s = s:gsub("\226\128[\139-\141]", "")	-- U+200B..U+200D
	s = s:gsub("\239\187\191", "")		-- U+FEFF
	s = s:gsub("\194\160", " ")		-- U+00A0
	s = s:gsub("[\"\\]", "")
	s = s:gsub("[%c%s]+", " ")
	s = s:gsub("^ ", ""):gsub(" $", "")
	s = s:lower()
	local last, first = s:match("^([^,]+), *([^,]+)$")
	if last then
		s = first .. " " .. last
	end
	return s
end

-- names(ctx): the set of normalised names of the names file in effect;
-- nil and why when it cannot be read
local function names(ctx)
	local path = ctx:config("names")
	if path == nil or path == "" then
		return nil, "not set"
	end
	if lists[path] then
		return lists[path]
	end
	local text, why = ctx:config_file("names")
	if text == nil then
		return nil, why
	end
	local set, n = {}, 0
	for line in text:gmatch("[^\n]+") do
		line = line:gsub("#.*$", "")
		local k = norm(line)
		if k ~= "" then
			set[k] = true
			n = n + 1
		end
	end
	if n == 0 then
		return nil, path .. ": no names"
	end
	lists[path] = set
	return set
end

-- internal(ctx): the internal domains: the key, or the policy's domains,
-- or (under the default policy) the recipients' domains
local function internal(ctx)
	local d = ctx:config_list("internal-domains")
	if #d > 0 then
		return d
	end
	d = {}
	local p = ctx:get("policy") or "default"
	if p ~= "default" then
		for x in p:gmatch("[^,%s]+") do
			d[#d + 1] = x
		end
	else
		for _, r in ipairs(ctx:rcpt()) do
			local x = r:match("@([^@>]+)>?$")
			if x then
				d[#d + 1] = x
			end
		end
	end
	return d
end

-- is_internal(addr, domains): addr's domain is one of domains or below one
local function is_internal(addr, domains)
	local dom = addr:match("@([^@]+)$")
	if dom == nil then
		return false
	end
	dom = dom:lower():gsub("%.$", "")
	for _, d in ipairs(domains) do
		d = d:lower():gsub("^@", ""):gsub("^%.", "")
		if dom == d or dom:sub(-#d - 1) == "." .. d then
			return true
		end
	end
	return false
end

-- mailbox(from): display name and address of a From value (decoded); the
-- address is the last <...>, or the bare address with a (comment) name
local function mailbox(from)
	local before, addr = from:match("^(.*)<([^<>]*)>[^<>]*$")
	if addr then
		return before, addr:gsub("^%s+", ""):gsub("%s+$", "")
	end
	addr = from:match("[^%s<>()\",;]+@[^%s<>()\",;]+")
	return from:match("%((.*)%)") or "", addr or ""
end

-- clean(s): s fit for a header field value (no control characters)
local function clean(s)
	return (s:gsub("%c", " "))
end

return {
	name = "display-name-spoof",
	keys = {
		{name = "names", type = "path", default = "",
		 doc = "the file of internal people's names, one a line, # comments"},
		{name = "internal-domains", type = "list", default = "", merge = "union",
		 doc = "addresses allowed to use those names; empty: the policy's or the recipients' domains"},
		{name = "action", type = "string", default = "tag",
		 doc = "what a spoofed name gets: tag or reject"},
		{name = "header", type = "string", default = "X-Display-Name-Spoof",
		 doc = "the header field tag adds"},
		{name = "subject-tag", type = "string", default = "",
		 doc = "put before the Subject by tag, once; empty: none"},
		{name = "reply", type = "reply",
		 default = "550 5.7.1 Message refused: the sender uses the name of a person of this organisation from an outside address",
		 doc = "the reply of reject"},
		-- sinkd's own key (sinkd-policy(5)), declared for its default only
		{name = "direction", type = "string", default = "inbound"},
	},
	init = function(ctx)
		if not ACTIONS[ctx:config("action")] then
			return false, "action: '" .. ctx:config("action") .. "' is not tag or reject"
		end
		if not ctx:config("header"):match("^[!-9;-~]+$") then
			return false, "header: '" .. ctx:config("header") .. "' is not a header field name"
		end
		local set, why = names(ctx)
		if set == nil then
			return false, "names: " .. why
		end
		lists = {}
		return true
	end,
	eom = function(ctx)
		local action = ctx:config("action")
		if not ACTIONS[action] then
			error("action: '" .. tostring(action) .. "' is not tag or reject")
		end
		local from = ctx:header_get("From")
		if from == nil then
			return
		end
		-- a From longer than any person's is looked at in its first
		-- FROM_MAX bytes: the patterns below stay linear in what is kept
		from = from:sub(1, FROM_MAX)
		local set, why = names(ctx)
		if set == nil then
			error("names: " .. why)
		end
		local display, addr = mailbox(from)
		local domains = internal(ctx)
		if addr == "" or is_internal(addr, domains) then
			return
		end
		local name = norm(display)
		local bare = norm((name:gsub("%s*%(via [^()]*%)$", ""):gsub(" via .*$", "")))
		local hit = (set[name] or set[bare]) and "name"
		if not hit then
			for a in name:gmatch("[^%s<>()'\",;:]+@[%w%.%-]+") do
				if is_internal(a, domains) then
					hit = "address"
					break
				end
			end
		end
		if not hit then
			return
		end
		local shown = clean(display:gsub("^%s+", ""):gsub("%s+$", ""))
		ctx:note("spoof", shown .. " <" .. clean(addr) .. ">")
		ctx:log("display name " .. shown .. " of an internal " .. hit
			.. " from " .. clean(addr) .. ": " .. action)
		if action == "reject" then
			return "reject", ctx:config("reply")
		end
		local h = ctx:config("header")
		if not ctx:header_add(h, "display name \"" .. shown:gsub("\"", "")
			.. "\" is that of an internal " .. (hit == "name" and "user" or "address")
			.. ", the address <" .. clean(addr) .. "> is outside") then
			error("header: '" .. h .. "' is not a header field name")
		end
		local tag = ctx:config("subject-tag")
		if tag ~= "" then
			local raw
			for _, f in ipairs(ctx:header()) do
				if f.name:lower() == "subject" then
					raw = f.raw
					break
				end
			end
			if raw == nil then
				ctx:header_add("Subject", tag)
			elseif raw:sub(1, #tag) ~= tag then
				ctx:header_change("Subject", 1, tag .. " " .. raw)
			end
		end
	end,
}
