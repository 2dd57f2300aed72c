// Package lmtp is the LMTP listener role (RFC 2033): it accepts mail from
// the MTA, resolves each recipient with a userdb lookup, spools the
// message once into a sealed memfd, hands one copy per recipient to that
// user's worker (through the master) and answers once per recipient with
// what the worker reported. It never opens a user's mail store: the
// worker-side delivery is package cote/lmtp/deliver.
//
// Built on github.com/emersion/go-smtp in LMTP mode. Implemented:
//   - RFC 2033 LMTP (LHLO, per-recipient DATA replies)
//   - RFC 2920 PIPELINING
//   - RFC 2034 ENHANCEDSTATUSCODES, RFC 3463 status codes
//   - RFC 6152 8BITMIME
//   - RFC 1870 SIZE
//   - RFC 3030 CHUNKING (BDAT)
//   - RFC 6531 SMTPUTF8
//   - RFC 5233 subaddress (recipient_delimiter, +detail)
//   - RFC 5321 section 4.4 Received trace field
//   - RFC 2033 recipients without a domain, RCPT TO:<user> (bareRcpt)
//
// Not implemented: STARTTLS, XCLIENT, DSN (so no ORCPT), lmtp_proxy.
// Quota at RCPT (lmtp_rcpt_check_quota) is Server.CheckQuota.
package lmtp
