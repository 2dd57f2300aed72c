#!/usr/bin/env python3
"""Sends one message over SMTP with Python's smtplib, as a mail client or
another MTA does: smtp_send.py HOST PORT FROM SUBJECT RCPT...
Prints "refused <rcpt> <code>" for each refused recipient, then OK."""
import smtplib
import sys

host, port, sender, subject = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rcpts = sys.argv[5:]
msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nSent through the MTA.\r\n" % (sender, ", ".join(rcpts), subject)).encode()
with smtplib.SMTP(host, port, timeout=30) as c:
    refused = c.sendmail(sender, rcpts, msg)
for r, (code, _) in sorted(refused.items()):
    print("refused", r, code)
print("OK")
