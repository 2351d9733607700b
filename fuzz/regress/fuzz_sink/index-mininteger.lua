-- an index of math.mininteger: the 1-based index less one overflowed
return {
    mail = function(ctx) ctx:mail_param(math.mininteger) end,
    eom = function(ctx)
        ctx:header(math.mininteger)
        ctx:rcpt(math.mininteger)
    end,
}
