#!/usr/bin/python3
"""dkimcheck.py - DKIM keys, signatures and verification with dkimpy

    dkimcheck.py genkey DIR SELECTOR DOMAIN [BITS|ed25519]
        an RSA key (or an Ed25519 one) in DIR/SELECTOR.DOMAIN.pem
        (openssl, mode 0600), and its public key appended to DIR/keys as
        a dkim-keys-file line
    dkimcheck.py sign DIR SELECTOR DOMAIN HEADERS [LENGTH] <IN >OUT
        IN with a DKIM-Signature on top (relaxed/simple, h= the
        comma-separated HEADERS, l= when LENGTH is "l": the body's length)
    dkimcheck.py verify KEYS <MSG
        one line per DKIM-Signature, topmost first: pass or fail, as
        dkimpy verifies it with the keys of KEYS (a dkim-keys-file)
        instead of DNS

dkimpy is the independent verifier: sinkd's results (libopendkim) are
compared with its.
"""
import os
import re
import subprocess
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


def main():
    cmd = sys.argv[1]
    if cmd == 'genkey':
        d, sel, dom = sys.argv[2:5]
        bits = sys.argv[5] if len(sys.argv) > 5 else '2048'
        pem = os.path.join(d, '%s.%s.pem' % (sel, dom))
        import base64
        if bits == 'ed25519':
            subprocess.run(['openssl', 'genpkey', '-algorithm', 'ed25519', '-out', pem],
                           check=True, stderr=subprocess.DEVNULL)
            der = subprocess.run(['openssl', 'pkey', '-in', pem, '-pubout', '-outform', 'DER'],
                                 check=True, capture_output=True).stdout
            # RFC 8463: p= is the raw 32-byte public key
            kind, pub = 'ed25519', der[-32:]
        else:
            subprocess.run(['openssl', 'genrsa', '-out', pem, bits], check=True,
                           stderr=subprocess.DEVNULL)
            kind, pub = 'rsa', subprocess.run(
                ['openssl', 'rsa', '-in', pem, '-pubout', '-outform', 'DER'],
                check=True, capture_output=True).stdout
        os.chmod(pem, 0o600)
        with open(os.path.join(d, 'keys'), 'a') as f:
            f.write('%s._domainkey.%s v=DKIM1; k=%s; p=%s\n'
                    % (sel, dom, kind, base64.b64encode(pub).decode()))
    elif cmd == 'sign':
        d, sel, dom, hdrs = sys.argv[2:6]
        length = len(sys.argv) > 6 and sys.argv[6] == 'l'
        msg = sys.stdin.buffer.read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
        with open(os.path.join(d, '%s.%s.pem' % (sel, dom)), 'rb') as f:
            key = f.read()
        sig = dkim.sign(msg, sel.encode(), dom.encode(), key,
                        include_headers=[h.encode() for h in hdrs.split(',')],
                        canonicalize=(b'relaxed', b'simple'), length=length)
        sys.stdout.buffer.write(sig + msg)
    elif cmd == 'verify':
        keys = keys_of(sys.argv[2])

        def dnsfunc(name, timeout=5):
            return keys.get(name.decode().lower().rstrip('.'))
        msg = sys.stdin.buffer.read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
        try:
            d = dkim.DKIM(msg)
            n = sum(1 for k, _ in d.headers if k.lower() == b'dkim-signature')
        except dkim.MessageFormatError:
            # a header dkimpy cannot read: no signature verifies
            head = msg.split(b'\r\n\r\n', 1)[0]
            n = len(re.findall(rb'(?im)^dkim-signature[ \t]*:', head))
            print('fail\n' * n, end='')
            return
        for i in range(n):
            try:
                ok = d.verify(idx=i, dnsfunc=dnsfunc)
            except Exception:
                ok = False
            print('pass' if ok else 'fail')
    else:
        sys.exit('usage: dkimcheck.py genkey|sign|verify ...')


if __name__ == '__main__':
    main()
