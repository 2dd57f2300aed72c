package sieve

import (
	"sort"
	"strings"
)

// The extensions this package implements, by the name a script requires
// them with. "comparator-i;octet" and "comparator-i;ascii-casemap" are
// always available and need no require (RFC 5228 section 2.7.3).
var knownExtensions = []string{
	"body",                       // RFC 5173
	"comparator-i;ascii-numeric", // RFC 4790, RFC 5228 section 2.7.3
	"comparator-i;ascii-casemap", // RFC 4790
	"comparator-i;octet",         // RFC 4790
	"copy",                       // RFC 3894
	"date",                       // RFC 5260
	"duplicate",                  // RFC 7352
	"editheader",                 // RFC 5293
	"encoded-character",          // RFC 5228 section 2.4.2.4
	"enotify",                    // RFC 5435, RFC 5436 (mailto)
	"envelope",                   // RFC 5228 section 5.4
	"environment",                // RFC 5183
	"ereject",                    // RFC 5429
	"fileinto",                   // RFC 5228 section 4.1
	"ihave",                      // RFC 5463
	"imap4flags",                 // RFC 5232
	"include",                    // RFC 6609
	"index",                      // RFC 5260
	"mailbox",                    // RFC 5490
	"mailboxid",                  // RFC 9042
	"regex",                      // draft-ietf-sieve-regex
	"reject",                     // RFC 5429
	"relational",                 // RFC 5231
	"spamtest",                   // RFC 5235
	"spamtestplus",               // RFC 5235
	"special-use",                // RFC 8579
	"subaddress",                 // RFC 5233
	"vacation",                   // RFC 5230
	"vacation-seconds",           // RFC 6131
	"variables",                  // RFC 5229
	"virustest",                  // RFC 5235
}

// ExtensionSet is a set of extension names an administrator enables.
type ExtensionSet map[string]bool

// AllExtensions returns every extension this package implements.
func AllExtensions() ExtensionSet {
	s := make(ExtensionSet, len(knownExtensions))
	for _, e := range knownExtensions {
		s[e] = true
	}
	return s
}

// DefaultExtensions returns the set enabled when the configuration names
// none. It follows Pigeonhole's default: the extensions meant for
// administrators' scripts or that depend on site setup (vacation-seconds,
// spamtest, spamtestplus, virustest, editheader, special-use) are off.
func DefaultExtensions() ExtensionSet {
	s := AllExtensions()
	for _, e := range []string{"vacation-seconds", "spamtest", "spamtestplus", "virustest", "editheader", "special-use"} {
		delete(s, e)
	}
	return s
}

// ParseExtensions applies a Dovecot-style "sieve_extensions" value to
// base: "+name" adds, "-name" removes, and a list of bare names replaces
// the set. Unknown names are returned in unknown.
func ParseExtensions(base ExtensionSet, value string) (s ExtensionSet, unknown []string) {
	s = make(ExtensionSet)
	fields := strings.Fields(value)
	replace := false
	for _, f := range fields {
		if f[0] != '+' && f[0] != '-' {
			replace = true
		}
	}
	if !replace {
		for e := range base {
			s[e] = true
		}
	}
	all := AllExtensions()
	for _, f := range fields {
		name := strings.ToLower(strings.TrimLeft(f, "+-"))
		if !all[name] {
			unknown = append(unknown, name)
			continue
		}
		if f[0] == '-' {
			delete(s, name)
		} else {
			s[name] = true
		}
	}
	return s, unknown
}

// has reports whether the set enables name. The two default comparators
// are always there.
func (s ExtensionSet) has(name string) bool {
	if name == "comparator-i;octet" || name == "comparator-i;ascii-casemap" {
		return true
	}
	if name == "vacation" && s["vacation-seconds"] {
		return true
	}
	return s[name]
}

// Capability returns the space-separated, sorted list of enabled
// extensions, as ManageSieve's SIEVE capability and Dovecot print it.
func (s ExtensionSet) Capability() string {
	var names []string
	for e, on := range s {
		if on && e != "comparator-i;octet" && e != "comparator-i;ascii-casemap" {
			names = append(names, e)
		}
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}
