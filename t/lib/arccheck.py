#!/usr/bin/python3
"""arccheck.py - ARC sets made and validated by dkimpy, for t/arc.t

    arccheck.py seal DIR SELECTOR DOMAIN SRVID <IN >OUT
        IN with an ARC set on top, sealed by dkimpy (dkim.arc_sign) with
        DIR/SELECTOR.DOMAIN.pem (dkimcheck.py genkey), its AAR taken from
        the Authentication-Results of SRVID (whose arc= result, if any,
        is the cv=); exit 1 when dkimpy adds no set
    arccheck.py verify KEYS <MSG
        "cv=RESULT" as dkimpy's arc_verify finds it with the keys of KEYS
        (a dkim-keys-file) instead of DNS, then "reason=..."; and for
        every instance, top first, "aar=VALUE" (its A-R results)

dkimpy is the independent implementation: sinkd's chains must pass with
it, and its chains with sinkd.
"""
import os
import sys

import dkim


def keys_of(path):
    keys = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            name, value = line.split(None, 1)
            keys[name.lower().rstrip('.')] = value.encode()
    return keys


def crlf(msg):
    return msg.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')


def main():
    cmd = sys.argv[1]
    if cmd == 'seal':
        d, sel, dom, srv = sys.argv[2:6]
        msg = crlf(sys.stdin.buffer.read())
        with open(os.path.join(d, '%s.%s.pem' % (sel, dom)), 'rb') as f:
            key = f.read()
        fields = dkim.arc_sign(msg, sel.encode(), dom.encode(), key, srv.encode())
        if not fields:
            sys.exit(1)
        sys.stdout.buffer.write(b''.join(fields) + msg)
    elif cmd == 'verify':
        keys = keys_of(sys.argv[2])

        def dnsfunc(name, timeout=5):
            return keys.get(name.decode().lower().rstrip('.'))
        msg = crlf(sys.stdin.buffer.read())
        cv, results, reason = dkim.arc_verify(msg, dnsfunc=dnsfunc)
        print('cv=%s' % (cv.decode() if cv else 'ended'))
        print('reason=%s' % reason)
        for r in results:
            print('aar=%s' % b' '.join(r['aar-value'].split()).decode())
    else:
        sys.exit('usage: arccheck.py seal|verify ...')


if __name__ == '__main__':
    main()
