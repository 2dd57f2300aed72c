// Package sieve is cote's Sieve mail filtering language: a parser, a
// checker and an interpreter that runs a user's script at delivery and
// returns the actions for the delivery to carry out. It stores nothing and
// sends nothing itself.
//
// Compile checks a script against the enabled extensions and resolves its
// includes; (*Script).Run evaluates it against an Env (envelope, message,
// mailboxes, duplicate store) within Limits and returns a Result. A
// runtime error means the delivery keeps the message and records why.
// Package sieve/script stores users' scripts on disk for ManageSieve and
// caches compiled scripts.
//
// Implemented:
//
//	RFC 5228  Sieve: An Email Filtering Language (fileinto, envelope,
//	          encoded-character; comparators i;octet, i;ascii-casemap)
//	RFC 4790  comparator i;ascii-numeric
//	RFC 3894  copy
//	RFC 5173  body
//	RFC 5183  environment
//	RFC 5229  variables
//	RFC 5230  vacation
//	RFC 5231  relational
//	RFC 5232  imap4flags
//	RFC 5233  subaddress
//	RFC 5235  spamtest, spamtestplus, virustest
//	RFC 5260  date, index
//	RFC 5293  editheader
//	RFC 5429  reject, ereject
//	RFC 5435  enotify, with the mailto method of RFC 5436
//	RFC 5463  ihave
//	RFC 5490  mailbox
//	RFC 6131  vacation-seconds
//	RFC 6609  include
//	RFC 7352  duplicate
//	RFC 8579  special-use
//	RFC 9042  mailboxid
//	draft-ietf-sieve-regex  regex (Go regexp syntax, RE2)
package sieve
