package login

import (
	"strconv"
	"strings"
)

// Referral is where auth sends a client instead of logging it in here
// (RFC 2221 login referrals; Dovecot's passdb extra fields): an OK reply
// with nologin and host= (with port= and destuser=), or with cote's
// referral= holding a whole URL. The protocol turns it into its own
// form, e.g. IMAP's "NO [REFERRAL imap://user;AUTH=PLAIN@host/]".
type Referral struct {
	Host     string // host=; may be an IPv6 literal without brackets
	Port     int    // port=; 0 when not given
	DestUser string // destuser=, else the user auth answered
	// URL is referral= as auth gave it; when set it is used as it is
	// (the protocol checks its scheme).
	URL string
}

// referralOf reads a referral from the fields of an OK reply: host= (or
// referral=) with nologin, or referral= on its own. nil when there is
// none.
func referralOf(p map[string]string) *Referral {
	_, nologin := p["nologin"]
	url := p["referral"]
	host := p["host"]
	if url == "" && (host == "" || !nologin) {
		return nil
	}
	r := &Referral{Host: host, DestUser: p["destuser"], URL: url}
	if r.DestUser == "" {
		r.DestUser = p["user"]
	}
	if n, err := strconv.Atoi(p["port"]); err == nil && n > 0 && n < 65536 {
		r.Port = n
	}
	return r
}

// URLFor returns the referral as a URL of scheme ("imap", "sieve") with
// the default port defPort left out, in the form of RFC 5092 section 6
// (imap) and RFC 5804 section 3 (sieve): scheme://user;AUTH=mech@host[:port]/.
// A referral= URL is returned when it has that scheme and nothing that
// could break out of a response; "" when there is no usable URL.
func (r *Referral) URLFor(scheme, mech string, defPort int) string {
	if r.URL != "" {
		if !strings.HasPrefix(strings.ToLower(r.URL), scheme+"://") || !urlSafe(r.URL) {
			return ""
		}
		return r.URL
	}
	if r.Host == "" || !urlSafe(r.Host) {
		return ""
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	if r.DestUser != "" {
		b.WriteString(escapeUserinfo(r.DestUser))
		if mech != "" {
			b.WriteString(";AUTH=")
			b.WriteString(escapeUserinfo(mech))
		}
		b.WriteByte('@')
	}
	if strings.Contains(r.Host, ":") {
		b.WriteString("[" + r.Host + "]")
	} else {
		b.WriteString(r.Host)
	}
	if r.Port != 0 && r.Port != defPort {
		b.WriteString(":" + strconv.Itoa(r.Port))
	}
	b.WriteByte('/')
	return b.String()
}

// urlSafe accepts printable ASCII without space, quotes, brackets and
// backslash: what can stand inside a response code or a quoted string.
// (An IPv6 host= gets its brackets from URLFor.)
func urlSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"\[]`, c) >= 0 {
			return false
		}
	}
	return s != ""
}

// escapeUserinfo percent-encodes what RFC 5092's enc-user and
// enc-auth-type do not allow as it is: everything but unreserved
// characters and the sub-delimiters other than ";".
func escapeUserinfo(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-._~!$&'()*+,=", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
