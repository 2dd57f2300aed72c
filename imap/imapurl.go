package imap

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// imapURL is an IMAP URL that names a message or a part of one (RFC
// 5092 section 9 "imessagepart"), with URLAUTH's authorization (RFC 4467
// section 3, RFC 5092 "iurlauth"), as CATENATE (RFC 4469 section 3) and
// URLAUTH use them. Only the forms that name message data are accepted:
// "imap://" iserver "/" imessagepart [iurlauth], and the relative
// "/" imessagepart that CATENATE allows.
type imapURL struct {
	absolute bool   // "imap://" form
	user     string // iuserinfo's user, decoded; "" when absent
	host     string
	mailbox  string // UTF-8 (RFC 5092 section 9 enc-mailbox)
	// uidValidity is 0 when absent.
	uidValidity uint32
	uid         uint32
	// section is enc-section decoded, "" for the whole message.
	section string
	// partial is ";PARTIAL=origin[.length]"; length 0 means to the end.
	partial        bool
	origin, length uint32

	// URLAUTH (RFC 4467 section 3); access is "" when absent.
	expire time.Time // zero when absent
	// access is "submit", "user", "authuser" or "anonymous", accessUser
	// the user of the first two.
	access, accessUser string
	// rump is the URL through the access identifier: what the verifier
	// covers (RFC 4467 section 2.1 "URLAUTH-authorized URL").
	rump string
	// mechanism and verifier are "" in a rump URL.
	mechanism, verifier string
}

var errBadURL = errors.New("invalid IMAP URL")

// maxURLLength bounds a URL.
const maxURLLength = 8192

// parseIMAPURL parses an absolute IMAP URL or a relative one starting
// with "/" (RFC 5092 sections 6 and 9).
func parseIMAPURL(s string) (*imapURL, error) {
	if len(s) > maxURLLength || s == "" {
		return nil, errBadURL
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return nil, errBadURL
		}
	}
	u := &imapURL{}
	path := ""
	switch {
	case len(s) >= 7 && strings.EqualFold(s[:7], "imap://"):
		u.absolute = true
		server, rest, ok := strings.Cut(s[7:], "/")
		if !ok {
			return nil, errBadURL
		}
		path = rest
		if i := strings.LastIndexByte(server, '@'); i >= 0 {
			userinfo := server[:i]
			server = server[i+1:]
			// iuserinfo = enc-user [iauth]; iauth is ";AUTH=" ...
			user, _, _ := strings.Cut(userinfo, ";")
			var err error
			if u.user, err = pctDecode(user); err != nil || u.user == "" {
				return nil, errBadURL
			}
		}
		if server == "" {
			return nil, errBadURL
		}
		u.host = server
	case s[0] == '/':
		path = s[1:]
	default:
		return nil, errBadURL
	}
	// ";" is no bchar, so the mailbox ends at the first one.
	semi := strings.IndexByte(path, ';')
	if semi <= 0 {
		return nil, errBadURL
	}
	mbox := path[:semi]
	rest := path[semi:]
	slash := strings.HasSuffix(mbox, "/")
	if slash {
		mbox = mbox[:len(mbox)-1]
	}
	name, err := pctDecode(mbox)
	if err != nil || name == "" || !utf8.ValidString(name) {
		return nil, errBadURL
	}
	u.mailbox = normalizeInbox(name)
	c := &urlCursor{s: s, pos: len(s) - len(rest)}
	if !slash {
		if v, ok := c.param("UIDVALIDITY"); ok {
			if u.uidValidity, err = nzNumber(v); err != nil {
				return nil, err
			}
		}
		if !c.slash() {
			return nil, errBadURL
		}
	}
	v, ok := c.param("UID")
	if !ok {
		return nil, errBadURL
	}
	if u.uid, err = nzNumber(v); err != nil {
		return nil, err
	}
	if c.peekSlash("SECTION") {
		c.slash()
		v, _ := c.param("SECTION")
		if u.section, err = pctDecode(v); err != nil || u.section == "" {
			return nil, errBadURL
		}
	}
	if c.peekSlash("PARTIAL") {
		c.slash()
		v, _ := c.param("PARTIAL")
		if err := u.parsePartial(v); err != nil {
			return nil, err
		}
	}
	if v, ok := c.param("EXPIRE"); ok {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, errBadURL
		}
		u.expire = t
	}
	if c.peek("URLAUTH") {
		if err := u.parseURLAuth(c); err != nil {
			return nil, err
		}
	}
	if c.pos != len(s) {
		return nil, errBadURL
	}
	return u, nil
}

// parsePartial parses partial-range = number ["." nz-number].
func (u *imapURL) parsePartial(v string) error {
	o, l, hasLen := strings.Cut(v, ".")
	n, err := strconv.ParseUint(o, 10, 32)
	if err != nil || o == "" || o[0] == '+' {
		return errBadURL
	}
	u.partial, u.origin = true, uint32(n)
	if hasLen {
		if u.length, err = nzNumber(l); err != nil {
			return err
		}
	}
	return nil
}

// parseURLAuth parses iurlauth's ";URLAUTH=" access [":" mechanism ":"
// enc-urlauth] (RFC 5092 section 9, RFC 4467 section 3).
func (u *imapURL) parseURLAuth(c *urlCursor) error {
	c.pos += len(";URLAUTH=")
	end := strings.IndexByte(c.s[c.pos:], ':')
	if end < 0 {
		end = len(c.s)
	} else {
		end += c.pos
	}
	access := c.s[c.pos:end]
	u.rump = c.s[:end]
	kind, user, hasUser := strings.Cut(access, "+")
	kind = strings.ToLower(kind)
	switch {
	case (kind == "submit" || kind == "user") && hasUser:
		var err error
		if u.accessUser, err = pctDecode(user); err != nil || u.accessUser == "" {
			return errBadURL
		}
	case (kind == "authuser" || kind == "anonymous") && !hasUser:
	default:
		return errBadURL
	}
	u.access = kind
	c.pos = end
	if c.pos == len(c.s) {
		return nil
	}
	mech, verifier, ok := strings.Cut(c.s[c.pos+1:], ":")
	if !ok || mech == "" || len(verifier) < 32 {
		return errBadURL
	}
	for i := 0; i < len(mech); i++ {
		if !isAlnum(mech[i]) && mech[i] != '-' && mech[i] != '.' {
			return errBadURL
		}
	}
	for i := 0; i < len(verifier); i++ {
		if !isHex(verifier[i]) {
			return errBadURL
		}
	}
	u.mechanism, u.verifier = mech, verifier
	c.pos = len(c.s)
	return nil
}

// urlCursor walks the ";NAME=value" parameters of an IMAP URL's path.
type urlCursor struct {
	s   string
	pos int
}

// peek reports whether ";name=" is next (case-insensitive).
func (c *urlCursor) peek(name string) bool {
	k := ";" + name + "="
	return len(c.s)-c.pos >= len(k) && strings.EqualFold(c.s[c.pos:c.pos+len(k)], k)
}

// peekSlash reports whether "/;name=" is next.
func (c *urlCursor) peekSlash(name string) bool {
	if c.pos >= len(c.s) || c.s[c.pos] != '/' {
		return false
	}
	c.pos++
	ok := c.peek(name)
	c.pos--
	return ok
}

// slash consumes a "/".
func (c *urlCursor) slash() bool {
	if c.pos < len(c.s) && c.s[c.pos] == '/' {
		c.pos++
		return true
	}
	return false
}

// param consumes ";name=value" and returns the value: up to the next ";"
// or the "/" before one, or up to the end.
func (c *urlCursor) param(name string) (string, bool) {
	if !c.peek(name) {
		return "", false
	}
	c.pos += len(name) + 2
	end := strings.IndexByte(c.s[c.pos:], ';')
	if end < 0 {
		end = len(c.s)
	} else {
		end += c.pos
		if end > c.pos && c.s[end-1] == '/' {
			end--
		}
	}
	v := c.s[c.pos:end]
	c.pos = end
	return v, true
}

func nzNumber(s string) (uint32, error) {
	if s == "" || s[0] < '1' || s[0] > '9' {
		return 0, errBadURL
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errBadURL
	}
	return uint32(n), nil
}

// pctDecode undoes %-encoding (RFC 3986 section 2.1); "+" stays.
func pctDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	v, err := url.PathUnescape(s)
	if err != nil {
		return "", errBadURL
	}
	return v, nil
}

func isAlnum(c byte) bool {
	return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'z'
}

func isHex(c byte) bool {
	return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f'
}

// sectionSpec parses the URL's section as a FETCH section (RFC 5092
// section 9 enc-section is a section-text with its part numbers).
func (u *imapURL) sectionSpec() (section, error) {
	if u.section == "" {
		return section{}, nil
	}
	p := &parser{b: []byte(u.section + "]")}
	sec := p.section()
	p.end()
	if p.err != nil {
		return section{}, errBadURL
	}
	return sec, nil
}

// extract returns the data the URL names in the message raw; ok is false
// when the section does not exist.
func (u *imapURL) extract(raw []byte) ([]byte, bool, error) {
	sec, err := u.sectionSpec()
	if err != nil {
		return nil, false, err
	}
	b, ok := sec.extract(raw, parseMessage(raw))
	if !ok {
		return nil, false, nil
	}
	if u.partial {
		count := u.length
		if count == 0 {
			count = ^uint32(0)
		}
		b = partial(b, u.origin, count)
	}
	return b, true, nil
}
