-- edits on a message of its own (after __END__): html and nesting
return {
    eom = function(ctx)
        for _, p in ipairs(ctx:parts()) do
            ctx:text_append(p.index, "<b>&</b>\r\n")
            ctx:part_content(p.index, true)
        end
        ctx:header_change("Subject", 1, nil)
        ctx:header_change("Subject", 1, string.rep("folded ", 200))
        ctx:part_remove(3)
        ctx:part_replace(4, nil, nil, "x")
    end,
}
__END__
From: a@example.net
Subject: =?ISO-8859-1?Q?caf=E9?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=o

--o
Content-Type: multipart/alternative; boundary=i

--i
Content-Type: text/plain; charset=iso-8859-1

café
--i
Content-Type: text/html

<html><body><p>hi</p></body></html>
--i--
--o
Content-Type: message/rfc822

Subject: inner

inner body
--o
Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=s

--s
Content-Type: text/plain

signed
--s
Content-Type: application/pkcs7-signature

AAAA
--s--
--o--
