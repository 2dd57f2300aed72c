#!/usr/bin/env python3
"""Drives cote's POP3 with Python's poplib: log in over plaintext, STLS or
implicit TLS, list, fetch every message and check LIST sizes equal the
bytes RETR sends, then QUIT (deleting the messages when asked).
Prints the subjects seen, then OK."""
import poplib
import ssl
import sys

host, port, mode, user, password, delete = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6] == "delete"
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if mode == "ssl":
    p = poplib.POP3_SSL(host, port, context=ctx)
else:
    p = poplib.POP3(host, port)
    if mode == "stls":
        p.stls(context=ctx)
p.user(user)
p.pass_(password)
count, size = p.stat()
_, listing, _ = p.list()
uidls = p.uidl()[1]
assert len(listing) == count == len(uidls), (listing, count, uidls)
total = 0
for entry in listing:
    num, octets = entry.split()
    resp, lines, got = p.retr(int(num))
    body = b"\r\n".join(lines) + b"\r\n"
    assert len(body) == int(octets), (num, len(body), octets)
    total += len(body)
    for l in lines:
        if l.startswith(b"Subject: "):
            print(l[9:].decode())
    if delete:
        p.dele(int(num))
assert total == size, (total, size)
p.quit()
print("OK")
