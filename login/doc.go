// Package login is what every login process (imap-login, pop3-login)
// shares: the listeners and the client limit, TLS (implicit and the
// STARTTLS/STLS upgrade), the rules for a "secured" connection, the client
// side of Dovecot's auth-client protocol, and the handoff of an
// authenticated client to the master, which routes it to the user's
// worker. The protocol-specific part (greeting, pre-auth commands) is a
// Protocol; package imaplogin implements the IMAP one.
//
// A login process knows nothing of storage: it never learns more about a
// user than what auth answered, and the master does not trust it for the
// identity either (it redeems the auth request id and cookie with auth).
//
// Protocols implemented here:
//   - Dovecot auth-client protocol 1.2, client side (see
//     reference/dovecot-internals.md section 2.2 and proto/authline.go).
//   - The login -> master handoff of package proto (Handoff, HandoffReply,
//     AuthConnect, AuthConnectReply, Status, Shutdown).
//
// docs/login.md describes the same in prose.
package login
