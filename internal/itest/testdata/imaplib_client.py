#!/usr/bin/env python3
"""Drives cote with Python's imaplib, the way a script or a simple client
would: log in over plaintext, STARTTLS or implicit TLS, append a message,
select, search, fetch it back and log out. Prints OK on success; any
failure raises and exits non-zero."""
import imaplib
import ssl
import sys
import time

host, port, mode, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

if mode == "ssl":
    c = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
else:
    c = imaplib.IMAP4(host, port)
    if mode == "starttls":
        typ, _ = c.starttls(ssl_context=ctx)
        assert typ == "OK", typ

typ, data = c.login(user, password)
assert typ == "OK", (typ, data)
subject = "imaplib %s %f" % (mode, time.time())
msg = ("From: py@example.org\r\nTo: %s@example.org\r\nSubject: %s\r\n\r\nhello from imaplib\r\n" % (user, subject)).encode()
typ, data = c.append("INBOX", "(\\Flagged)", imaplib.Time2Internaldate(time.time()), msg)
assert typ == "OK", (typ, data)
typ, data = c.select("INBOX")
assert typ == "OK", (typ, data)
typ, data = c.search(None, "SUBJECT", '"%s"' % subject)
assert typ == "OK" and data[0], (typ, data)
num = data[0].split()[-1]
typ, data = c.fetch(num, "(FLAGS BODY.PEEK[])")
assert typ == "OK", (typ, data)
assert data[0][1] == msg, data
assert b"\\Flagged" in data[0][0], data
typ, _ = c.logout()
assert typ == "BYE", typ
print("OK")
