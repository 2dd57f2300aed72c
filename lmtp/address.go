package lmtp

import (
	"strings"
	"unicode/utf8"
)

// address is a recipient address split for delivery (RFC 5233).
type address struct {
	Local  string // local part without the detail
	Detail string // subaddress after the delimiter; "" when none
	Domain string
	// Delim is the delimiter found; "" when the address has no detail
	// part ("user+@example.com" has one, with an empty detail).
	Delim string
	// HasDomain is true when the address had an "@".
	HasDomain bool
}

// Username is the name looked up in the userdb: "local@domain" or
// "local", as Dovecot's lmtp does; auth_username_format in auth decides
// what of it the userdb sees.
func (a address) Username() string {
	if !a.HasDomain {
		return a.Local
	}
	return a.Local + "@" + a.Domain
}

// String puts the address back together.
func (a address) String() string {
	s := a.Local
	if a.Delim != "" {
		s += a.Delim + a.Detail
	}
	if a.HasDomain {
		s += "@" + a.Domain
	}
	return s
}

// splitAddress splits addr ("local@domain", as go-smtp gives it, the local
// part unquoted) at the last '@' and the local part at the first
// character that is any of delims (Dovecot's recipient_delimiter may list
// several). A local part that would be empty before the delimiter is not
// split, so "+list@example.com" stays a user of its own.
func splitAddress(addr, delims string) address {
	var a address
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		a.Local, a.Domain, a.HasDomain = addr[:i], addr[i+1:], true
	} else {
		a.Local = addr
	}
	i := -1
	for _, r := range delims {
		if r == utf8.RuneError {
			continue // not a character: matches nothing
		}
		d := string(r)
		if j := strings.Index(a.Local, d); j >= 0 && (i < 0 || j < i) {
			i, a.Delim = j, d
		}
	}
	if i <= 0 {
		a.Delim = ""
		return a
	}
	a.Local, a.Detail = a.Local[:i], a.Local[i+len(a.Delim):]
	return a
}
