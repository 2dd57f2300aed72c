package lmtp

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
)

// bareRcpt lets go-smtp, whose path parser requires "@domain", accept
// RCPT TO:<user>: a recipient without a domain, which RFC 2033 allows an
// LMTP client to send and which Dovecot resolves through
// auth_username_format like any other (RFC 5321 section 4.1.1.3 has the
// same for <Postmaster>). go-smtp v0.25 has no option for it, so
// bareRcpt sits between the connection and go-smtp. It rewrites
// "RCPT TO:<user>" to "RCPT TO:<user@MARK>", MARK being a random domain of
// this connection that the session takes for "no domain", and takes
// "@MARK" out of what go-smtp writes back, so that the client never sees
// it.
//
// Only command lines are rewritten, never message content. bareRcpt
// follows the protocol from both sides: a 354 reply starts DATA content,
// which ends at go-smtp's end-of-data (its dataReader's rule, CRLF "."
// CRLF); a BDAT command that go-smtp will accept is followed by its chunk
// of the size it names (RFC 3030). Command lines are handed to go-smtp one
// at a time, so go-smtp has replied to one before bareRcpt looks at the
// next. After a line longer than go-smtp takes, or a STARTTLS answered
// with 220, everything passes unchanged (cote does not offer STARTTLS on
// LMTP; this keeps a TLS stream from ever being touched if it does).
type bareRcpt struct {
	src  io.Reader
	dst  io.Writer
	mark []byte // "@" + domain

	rmu     sync.Mutex // guards the read side below
	in      []byte     // read from src, not looked at yet
	out     []byte     // looked at, not handed to go-smtp yet
	state   bareState
	dot     dotState // in stateData: where in go-smtp's end-of-data machine
	chunk   uint64   // in stateChunk: bytes of the chunk left
	maxLine int      // longest command line looked at
	tls     bool     // a STARTTLS line was handed over, no reply seen yet
	err     error    // sticky error from src

	// Set by the write side when a reply line starts with the code.
	saw354, saw220 atomic.Bool

	wmu     sync.Mutex // guards the write side below
	pend    []byte     // a possible beginning of mark at the end of the last Write
	lineLen int        // bytes of the current reply line written so far
	code    [3]byte    // its first bytes
}

type bareState int

const (
	stateCommand bareState = iota
	stateData
	stateChunk
	stateRaw
)

// dotState mirrors go-smtp's dataReader states.
type dotState int

const (
	dotBeginLine dotState = iota
	dotDot
	dotDotCR
	dotCR
	dotData
)

// newBareRcpt reads the client from src and writes replies to dst.
// maxLine is at least go-smtp's MaxLineLength: every command line go-smtp
// takes is looked at whole.
func newBareRcpt(src io.Reader, dst io.Writer, maxLine int) *bareRcpt {
	var rnd [8]byte
	rand.Read(rnd[:])
	return &bareRcpt{src: src, dst: dst, maxLine: maxLine, mark: []byte("@" + hex.EncodeToString(rnd[:]) + ".bare.invalid")}
}

// domain is the stand-in domain of a bare recipient.
func (b *bareRcpt) domain() string { return string(b.mark[1:]) }

// fill reads once more from src into in.
func (b *bareRcpt) fill() {
	if b.err != nil {
		return
	}
	if cap(b.in)-len(b.in) < 1024 {
		// Double for long lines, so that a line of n bytes costs O(n).
		nb := make([]byte, len(b.in), max(2*len(b.in), len(b.in)+4096))
		copy(nb, b.in)
		b.in = nb
	}
	n, err := b.src.Read(b.in[len(b.in):cap(b.in)])
	b.in = b.in[:len(b.in)+n]
	if err != nil {
		b.err = err
	}
}

// Read hands go-smtp the client's bytes, bare recipients rewritten.
func (b *bareRcpt) Read(p []byte) (int, error) {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if len(b.out) > 0 {
			n := copy(p, b.out)
			b.out = b.out[n:]
			return n, nil
		}
		switch b.state {
		case stateRaw:
			if len(b.in) > 0 {
				n := copy(p, b.in)
				b.in = b.in[n:]
				return n, nil
			}
			if b.err != nil {
				return 0, b.err
			}
			return b.src.Read(p)
		case stateChunk:
			if b.chunk == 0 {
				b.state = stateCommand
				continue
			}
			if uint64(len(p)) > b.chunk {
				p = p[:b.chunk]
			}
			var n int
			if len(b.in) > 0 {
				n = copy(p, b.in)
				b.in = b.in[n:]
			} else {
				if b.err != nil {
					return 0, b.err
				}
				var err error
				n, err = b.src.Read(p)
				if err != nil {
					b.err = err
				}
				if n == 0 {
					return 0, err
				}
			}
			b.chunk -= uint64(n)
			return n, nil
		case stateData:
			if len(b.in) == 0 {
				if b.err != nil {
					return 0, b.err
				}
				n, err := b.src.Read(p)
				if err != nil {
					b.err = err
				}
				if n == 0 {
					return 0, err
				}
				k := b.scanData(p[:n])
				// Bytes after the end of data are commands: keep them.
				b.in = append(b.in, p[k:n]...)
				return k, nil
			}
			n := copy(p, b.in)
			k := b.scanData(p[:n])
			b.in = b.in[k:]
			return k, nil
		case stateCommand:
			if b.tls {
				b.tls = false
				if b.saw220.Load() {
					b.state = stateRaw
					continue
				}
			}
			if b.saw354.Swap(false) {
				b.state, b.dot = stateData, dotBeginLine
				continue
			}
			i := bytes.IndexByte(b.in, '\n')
			switch {
			case i < 0 && len(b.in) > b.maxLine:
				// go-smtp ends the connection over a line this long;
				// nothing is looked at any more.
				b.state = stateRaw
			case i < 0 && b.err != nil:
				if len(b.in) == 0 {
					return 0, b.err
				}
				// A last line without its end: as it is.
				b.out, b.in = b.in, nil
			case i < 0:
				b.fill()
			default:
				b.out, b.in = b.command(b.in[:i+1]), b.in[i+1:]
			}
		}
	}
}

// scanData runs go-smtp's end-of-data machine over p and returns how many
// bytes belong to the message (all of p, or up to and including the end
// of data, after which the state is stateCommand again).
func (b *bareRcpt) scanData(p []byte) int {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch b.dot {
		case dotBeginLine:
			switch c {
			case '.':
				b.dot = dotDot
			case '\r':
				b.dot = dotCR
			default:
				b.dot = dotData
			}
		case dotDot:
			if c == '\r' {
				b.dot = dotDotCR
			} else {
				b.dot = dotData
			}
		case dotDotCR:
			if c == '\n' {
				b.state = stateCommand
				return i + 1
			}
			b.dot = dotData
		case dotCR:
			if c == '\n' {
				b.dot = dotBeginLine
			} else {
				b.dot = dotData
			}
		case dotData:
			// The rest of the line goes by at once.
			j := bytes.IndexByte(p[i:], '\r')
			if j < 0 {
				return len(p)
			}
			i += j
			b.dot = dotCR
		}
	}
	return len(p)
}

// command looks at one command line (with its line end) the way go-smtp's
// parseCmd will, notes what follows it, and returns it, rewritten when it
// is a RCPT TO with a bare recipient.
func (b *bareRcpt) command(line []byte) []byte {
	text := strings.TrimRight(string(line), "\r\n")
	if strings.HasPrefix(strings.ToUpper(text), "STARTTLS") {
		b.saw220.Store(false)
		b.tls = true
		return line
	}
	if len(text) < 6 || text[4] != ' ' {
		return line
	}
	arg := strings.TrimSpace(text[5:])
	switch strings.ToUpper(text[0:4]) {
	case "BDAT":
		// go-smtp's handleBdat: every command whose size it can parse
		// is followed by its chunk, accepted or not.
		f := strings.Fields(arg)
		if len(f) == 0 || len(f) > 2 || (len(f) == 2 && !strings.EqualFold(f[1], "LAST")) {
			return line
		}
		size, err := strconv.ParseUint(f[0], 10, 32)
		if err != nil {
			return line
		}
		b.state, b.chunk = stateChunk, size
		return line
	case "RCPT":
		at := bareAt(text)
		if at < 0 {
			return line
		}
		out := make([]byte, 0, len(line)+len(b.mark))
		out = append(out, line[:at]...)
		out = append(out, b.mark...)
		return append(out, line[at:]...)
	}
	return line
}

// bareAt returns where in a RCPT command line (without its line end) the
// domain of a bare recipient, RCPT TO:<user>, belongs: the index of the
// path's closing '>'. It is -1 when the path has a domain, a source
// route, an empty or malformed local part (go-smtp's parser takes the
// local part as a dot-string up to '@', or a quoted-string), or no angle
// brackets.
func bareAt(text string) int {
	spaces := func(s string) int { return len(s) - len(strings.TrimLeftFunc(s, unicode.IsSpace)) }
	start := 5 + spaces(text[5:])
	if len(text)-start < 3 || !strings.EqualFold(text[start:start+3], "TO:") {
		return -1
	}
	start += 3
	start += spaces(text[start:])
	p := text[start:]
	if len(p) < 2 || p[0] != '<' || p[1] == '@' {
		return -1
	}
	i, n := 1, 0
	if p[1] == '"' {
		for i = 2; ; {
			if i >= len(p) {
				return -1
			}
			c := p[i]
			i++
			if c == '"' {
				break
			}
			if c == '\\' {
				if i >= len(p) {
					return -1
				}
				i++
			}
			n++
		}
	} else {
		for ; i < len(p) && !strings.ContainsRune("@()<>[]:;\\,\" \t", rune(p[i])); i++ {
			n++
		}
	}
	if n == 0 || i >= len(p) || p[i] != '>' {
		return -1
	}
	return start + i
}

// Write passes go-smtp's replies to the client with the stand-in domain
// taken out, and notes the reply codes that change what follows.
func (b *bareRcpt) Write(p []byte) (int, error) {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	for _, c := range p {
		if b.lineLen < len(b.code) {
			b.code[b.lineLen] = c
			if b.lineLen == 2 {
				switch string(b.code[:]) {
				case "354":
					b.saw354.Store(true)
				case "220":
					b.saw220.Store(true)
				}
			}
		}
		b.lineLen++
		if c == '\n' {
			b.lineLen = 0
		}
	}
	data := append(b.pend, p...)
	b.pend = nil
	if bytes.Contains(data, b.mark) {
		data = bytes.ReplaceAll(data, b.mark, nil)
	}
	// Hold back an end that may be the beginning of mark, split over two
	// writes; a reply line ends in CRLF, so it goes out with the rest.
	for k := min(len(b.mark)-1, len(data)); k > 0; k-- {
		if bytes.HasPrefix(b.mark, data[len(data)-k:]) {
			b.pend = append([]byte(nil), data[len(data)-k:]...)
			data = data[:len(data)-k]
			break
		}
	}
	if len(data) > 0 {
		if _, err := b.dst.Write(data); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
