#!/usr/bin/env python3
"""Delivers one message over LMTP with Python's smtplib.LMTP, the way an
MTA does, to several recipients; prints one line per recipient:
"<rcpt> <code>" (the reply after DATA, or the RCPT refusal)."""
import smtplib
import sys

where, sender, subject = sys.argv[1], sys.argv[2], sys.argv[3]
rcpts = sys.argv[4:]
if where.startswith("/"):
    c = smtplib.LMTP(where)
else:
    host, port = where.rsplit(":", 1)
    c = smtplib.LMTP(host, int(port))
c.ehlo_or_helo_if_needed()
msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nDelivered over LMTP.\r\n" % (sender, ", ".join(rcpts), subject)).encode()
code, resp = c.mail(sender)
assert code == 250, (code, resp)
accepted = []
for r in rcpts:
    code, resp = c.rcpt(r)
    if code == 250:
        accepted.append(r)
    else:
        print(r, code)
if accepted:
    c.putcmd("data")
    code, resp = c.getreply()
    assert code == 354, (code, resp)
    q = smtplib._quote_periods(msg)
    if q[-2:] != b"\r\n":
        q += b"\r\n"
    c.send(q + b".\r\n")
    for r in accepted:
        code, resp = c.getreply()
        print(r, code)
c.quit()
