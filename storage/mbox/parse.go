package mbox

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"cote/storage"
)

// message is one message of an mbox file as parsed: byte offsets into
// the file and what its status headers say.
type message struct {
	Start     int64  // the From_ line
	HdrStart  int64  // the first header line
	BodyStart int64  // the first byte after the header's blank line
	End       int64  // the end of the body (before the separating newline)
	From      string // the From_ line without "From " and the newline
	// Quoted is true for a message without a valid Content-Length: its
	// end was found by the next From_ line, so its body may carry
	// mboxrd quoting (">From ") to undo on reading.
	Quoted   bool
	UID      uint32 // X-UID, 0 when absent
	Status   string // Status: R seen, O not recent
	XStatus  string // X-Status: A answered, F flagged, T draft, D deleted
	Keywords []string
	Base     *imapBase // X-IMAPbase (or X-IMAP) of this message
	// Pseudo is UW-IMAP's "FOLDER INTERNAL DATA" message (X-IMAP):
	// not a message, kept as it is.
	Pseudo bool
}

// imapBase is the X-IMAPbase header of the first message:
// "<uidvalidity> <uidnext> [keywords...]".
type imapBase struct {
	UIDValidity uint32
	UIDNext     uint32
	Keywords    []string
}

// hidden are the header fields Dovecot keeps its state in and hides from
// clients (mbox_hide_headers in Dovecot's mbox storage); cote hides them
// too and drops them from appended messages.
var hidden = map[string]bool{
	"content-length": true, "status": true, "x-imap": true, "x-imapbase": true,
	"x-keywords": true, "x-status": true, "x-uid": true,
}

// isFromLine reports whether b starts with a From_ line: "From " and at
// least a sender or a date on the line.
func isFromLine(b []byte) bool {
	if !bytes.HasPrefix(b, []byte("From ")) {
		return false
	}
	rest := b[5:]
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	return len(bytes.TrimSpace(rest)) > 0
}

// parse splits an mbox file into messages. A message ends where its
// Content-Length says when that points at the end of the file or at a
// newline and the next From_ line (as Dovecot writes it), and otherwise
// at the next From_ line that follows an empty line (mboxo/mboxrd, as
// other MDAs write it). Data before the first From_ line is ignored
// (bad is true then).
func parse(data []byte) (msgs []message, bad bool) {
	pos := 0
	if len(data) > 0 && !isFromLine(data) {
		bad = true
		i := bytes.Index(data, []byte("\nFrom "))
		for i >= 0 && !isFromLine(data[i+1:]) {
			j := bytes.Index(data[i+1:], []byte("\nFrom "))
			if j < 0 {
				i = -1
				break
			}
			i += 1 + j
		}
		if i < 0 {
			return nil, true
		}
		pos = i + 1
	}
	for pos < len(data) {
		m, next := parseOne(data, pos)
		msgs = append(msgs, m)
		pos = next
	}
	if len(msgs) > 0 && msgs[0].Base == nil {
		// X-IMAPbase belongs in the first message only.
		for i := range msgs[1:] {
			msgs[i+1].Base = nil
		}
	}
	return msgs, bad
}

// parseOne parses the message whose From_ line starts at pos and returns
// it with the offset of the next one.
func parseOne(data []byte, pos int) (message, int) {
	m := message{Start: int64(pos)}
	// fromStart skips "From " when it is there: a caller may hand bytes
	// read at a stale offset, which must not crash the parse.
	fromStart := pos
	if bytes.HasPrefix(data[pos:], []byte("From ")) {
		fromStart = pos + 5
	}
	le := bytes.IndexByte(data[pos:], '\n')
	if le < 0 {
		m.From = string(data[fromStart:])
		m.HdrStart, m.BodyStart, m.End = int64(len(data)), int64(len(data)), int64(len(data))
		return m, len(data)
	}
	m.From = strings.TrimRight(string(data[min(fromStart, pos+le):pos+le]), "\r")
	hs := pos + le + 1
	m.HdrStart = int64(hs)
	// The header ends at the first empty line.
	bs := len(data)
	he := len(data)
	for p := hs; p < len(data); {
		e := bytes.IndexByte(data[p:], '\n')
		if e < 0 {
			break
		}
		line := data[p : p+e]
		if len(line) == 0 || len(line) == 1 && line[0] == '\r' {
			he, bs = p, p+e+1
			break
		}
		p += e + 1
	}
	if he > len(data) {
		he = len(data)
	}
	m.BodyStart = int64(bs)
	cl := int64(-1)
	headerFields(data[hs:he], func(name string, value []byte) {
		v := strings.TrimSpace(string(value))
		switch name {
		case "x-uid":
			if n, err := strconv.ParseUint(v, 10, 32); err == nil {
				m.UID = uint32(n)
			}
		case "status":
			m.Status = v
		case "x-status":
			m.XStatus = v
		case "x-keywords":
			m.Keywords = strings.Fields(v)
		case "x-imapbase", "x-imap":
			if b := parseBase(v); b != nil {
				m.Base = b
				m.Pseudo = name == "x-imap"
			}
		case "content-length":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				cl = n
			}
		}
	})
	if cl >= 0 && int64(bs)+cl <= int64(len(data)) {
		e := bs + int(cl)
		switch {
		case e == len(data):
			m.End = int64(e)
			return m, e
		case data[e] == '\n' && (e+1 == len(data) || isFromLine(data[e+1:])):
			m.End = int64(e)
			return m, e + 1
		}
	}
	m.Quoted = true
	// The next From_ line that follows an empty line.
	for p := bs; p < len(data); {
		i := bytes.Index(data[p:], []byte("\n\nFrom "))
		if i < 0 {
			break
		}
		at := p + i + 2
		if isFromLine(data[at:]) && at-1 >= bs {
			m.End = int64(at - 1)
			return m, at
		}
		p += i + 1
	}
	// A body that starts with a From_ line right after the header.
	if bs < len(data) && bs > hs && isFromLine(data[bs:]) && data[bs-1] == '\n' {
		m.End = int64(bs)
		return m, bs
	}
	end := len(data)
	if end-1 >= bs && data[end-1] == '\n' && (end-2 < bs || data[end-2] == '\n') {
		end-- // the separator after the last message
	}
	m.End = int64(end)
	return m, len(data)
}

func parseBase(v string) *imapBase {
	f := strings.Fields(v)
	if len(f) < 2 {
		return nil
	}
	uv, err1 := strconv.ParseUint(f[0], 10, 32)
	next, err2 := strconv.ParseUint(f[1], 10, 32)
	if err1 != nil || err2 != nil || uv == 0 {
		return nil
	}
	return &imapBase{UIDValidity: uint32(uv), UIDNext: uint32(next), Keywords: f[2:]}
}

// headerFields calls fn for each field of a header (LF or CRLF line
// endings) with its lower-case name and its unfolded value.
func headerFields(hdr []byte, fn func(name string, value []byte)) {
	lines := bytes.SplitAfter(hdr, []byte("\n"))
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if len(l) == 0 || l[0] == ' ' || l[0] == '\t' {
			continue
		}
		name, val, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			continue
		}
		v := append([]byte(nil), val...)
		for i+1 < len(lines) && len(lines[i+1]) > 0 && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			v = append(v, lines[i]...)
		}
		v = bytes.ReplaceAll(bytes.ReplaceAll(v, []byte("\r\n"), []byte(" ")), []byte("\n"), []byte(" "))
		fn(strings.ToLower(string(bytes.TrimSpace(name))), v)
	}
}

// filterHeader returns a header without the hidden fields (and their
// continuation lines).
func filterHeader(hdr []byte) []byte {
	var out []byte
	skip := false
	for _, l := range bytes.SplitAfter(hdr, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			if !skip {
				out = append(out, l...)
			}
			continue
		}
		name, _, ok := bytes.Cut(l, []byte(":"))
		skip = ok && hidden[strings.ToLower(string(bytes.TrimSpace(name)))]
		if !skip {
			out = append(out, l...)
		}
	}
	return out
}

// unquote undoes mboxrd quoting: a line of one or more '>' followed by
// "From " loses one '>'.
func unquote(body []byte) []byte {
	if !bytes.Contains(body, []byte(">From ")) {
		return body
	}
	var out []byte
	for _, l := range bytes.SplitAfter(body, []byte("\n")) {
		i := 0
		for i < len(l) && l[i] == '>' {
			i++
		}
		if i > 0 && bytes.HasPrefix(l[i:], []byte("From ")) {
			l = l[1:]
		}
		out = append(out, l...)
	}
	return out
}

// split returns a message's header without the hidden fields and its
// body with mboxrd quoting undone when it has no Content-Length.
func split(data []byte, m message) (hdr, body []byte) {
	he := m.BodyStart
	if he > m.HdrStart && data[he-1] == '\n' {
		// The header's blank line.
		he--
		if he > m.HdrStart && data[he-1] == '\r' {
			he--
		}
	}
	hdr = filterHeader(data[m.HdrStart:max(he, m.HdrStart)])
	if n := len(hdr); n > 0 && hdr[n-1] == '\r' && (n == 1 || hdr[n-2] == '\n') {
		hdr = hdr[:n-1] // a lone CR cut short at the end of the file
	}
	body = data[min(m.BodyStart, m.End):m.End]
	if m.Quoted {
		body = unquote(body)
	}
	return hdr, body
}

// content returns a message as clients see it (LF line endings as
// stored): the header, the empty line when there is a header, and the
// body (see split).
func content(data []byte, m message) []byte {
	hdr, body := split(data, m)
	out := make([]byte, 0, len(hdr)+1+len(body))
	out = append(out, hdr...)
	if len(hdr) > 0 {
		// A message whose header holds only cote's and Dovecot's fields
		// is its body alone.
		out = append(out, '\n')
	}
	return append(out, body...)
}

// flags returns the flags the status headers give.
func (m *message) flags() []string {
	var f []string
	if strings.ContainsRune(m.Status, 'R') {
		f = append(f, storage.FlagSeen)
	}
	for _, x := range []struct {
		c    rune
		flag string
	}{{'A', storage.FlagAnswered}, {'F', storage.FlagFlagged}, {'T', storage.FlagDraft}, {'D', storage.FlagDeleted}} {
		if strings.ContainsRune(m.XStatus, x.c) {
			f = append(f, x.flag)
		}
	}
	return append(f, m.Keywords...)
}

var weekdays = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// fromLine is Dovecot's mbox_from_create without the leading "From ":
// "<sender>  <asctime in local time>".
func fromLine(sender string, t time.Time) string {
	t = t.In(time.Local)
	return sender + "  " + weekdays[t.Weekday()] + " " + months[t.Month()-1] + " " +
		t.Format("02 15:04:05 2006")
}

// fromDate parses the date of a From_ line's rest ("sender  Www Mmm dd
// hh:mm:ss yyyy [+-zzzz]"), as Dovecot's mbox_from_parse: local time
// unless a zone follows. ok is false when there is none.
func fromDate(rest string) (time.Time, bool) {
	f := strings.Fields(rest)
	for i := range f {
		if !isWeekday(f[i]) || i+5 > len(f) {
			continue
		}
		t, err := time.ParseInLocation("Mon Jan _2 15:04:05 2006", strings.Join(f[i:i+5], " "), time.Local)
		if err != nil {
			continue
		}
		if i+5 < len(f) {
			if z, err := time.Parse("-0700", f[i+5]); err == nil {
				_, off := z.Zone()
				t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.FixedZone("", off))
			}
		}
		return t, true
	}
	return time.Time{}, false
}

func isWeekday(s string) bool {
	for _, w := range weekdays {
		if strings.EqualFold(s, w) {
			return true
		}
	}
	return false
}
