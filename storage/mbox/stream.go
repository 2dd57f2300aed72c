package mbox

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"cote/storage"
	"cote/storage/internal/mailstate"
)

// This file is the backend's parser and writer for a single mbox file
// outside any store (coteadm import and export): a file from cote,
// Dovecot, mutt or Thunderbird read message by message, and messages
// written with their flags and dates for any of them to read.

// Message is one message of a single mbox file.
type Message struct {
	// Sender is the From_ line's address (MAILER-DAEMON when unknown).
	Sender string
	// Date is the From_ line's date: the internal date. It is zero
	// when the line has none.
	Date time.Time
	// Flags are the system flags and keywords of Status (R), X-Status
	// (A, F, T, D) and X-Keywords, or of Thunderbird's X-Mozilla-Status
	// and X-Mozilla-Keys when the file has none of those.
	Flags []string
	// Content is the message with LF line endings, without the status
	// headers, and with mboxrd quoting undone when its end was found by
	// the next From_ line.
	Content []byte
}

// File is a parsed mbox file held in memory.
type File struct {
	data []byte
	msgs []message
	// Garbage is true when the file had bytes before its first From_
	// line (they are not a message and were skipped).
	Garbage bool
}

// ReadFile reads and parses the mbox file at path under an fcntl read
// lock (delivering MDAs take the write lock).
func ReadFile(path string) (*File, error) {
	data, err := readShared(path)
	if err != nil {
		return nil, err
	}
	return ParseFile(data), nil
}

// ParseFile parses an mbox file as the backend does (Content-Length
// when it points at the next From_ line, else the next From_ line after
// an empty line). UW-IMAP's folder-internal-data message is left out.
func ParseFile(data []byte) *File {
	msgs, bad := parse(data)
	f := &File{data: data, Garbage: bad}
	for _, m := range msgs {
		if !m.Pseudo {
			f.msgs = append(f.msgs, m)
		}
	}
	return f
}

// Len is the number of messages.
func (f *File) Len() int { return len(f.msgs) }

// Message returns the i-th message, from 0.
func (f *File) Message(i int) Message {
	m := f.msgs[i]
	out := Message{Sender: "MAILER-DAEMON", Content: content(f.data, m)}
	if fields := strings.Fields(m.From); len(fields) > 0 && !isWeekday(fields[0]) {
		out.Sender = fields[0]
	}
	if t, ok := fromDate(m.From); ok {
		out.Date = t
	}
	if m.Status != "" || m.XStatus != "" || m.Keywords != nil {
		out.Flags = m.flags()
	} else {
		out.Flags = mozillaFlags(f.data[m.HdrStart:max(m.BodyStart, m.HdrStart)])
	}
	return out
}

// X-Mozilla-Status bits (Thunderbird's nsMsgMessageFlags).
var mozillaBits = []struct {
	bit  uint64
	flag string
}{{0x1, storage.FlagSeen}, {0x2, storage.FlagAnswered}, {0x4, storage.FlagFlagged}, {0x8, storage.FlagDeleted}}

// mozillaFlags returns the flags of Thunderbird's X-Mozilla-Status (hex
// bits) and X-Mozilla-Keys (keywords, space-separated) in a header.
func mozillaFlags(hdr []byte) []string {
	var flags []string
	headerFields(hdr, func(name string, value []byte) {
		v := strings.TrimSpace(string(value))
		switch name {
		case "x-mozilla-status":
			bits, err := strconv.ParseUint(v, 16, 32)
			if err != nil {
				return
			}
			for _, b := range mozillaBits {
				if bits&b.bit != 0 {
					flags = append(flags, b.flag)
				}
			}
		case "x-mozilla-keys":
			flags = append(flags, strings.Fields(v)...)
		}
	})
	return flags
}

// Writer writes messages to a single mbox file that cote, Dovecot, mutt
// and Thunderbird read: the From_ line with the internal date (in its
// own zone, written after the year, which Dovecot's parser takes), the
// header, Status (R seen, O not recent), X-Status (A answered, F
// flagged, T draft, D deleted), X-Keywords, the empty line, the body and
// the separating empty line. A body with lines that start with "From "
// (after any '>') is quoted mboxrd-style, one '>' more, for readers that
// split at From_ lines; any other body gets a Content-Length instead, so
// that it reads back byte for byte. (A body that needs quoting and does
// not end in a newline gets a Content-Length and no quoting: it reads
// back exact in cote, Dovecot and mutt, which honour Content-Length.)
type Writer struct {
	w        *bufio.Writer
	keywords []string
	n        int
}

// NewWriter returns a Writer. keywords, when there are any, go into an
// X-IMAPbase header of the first message: Dovecot keeps only X-Keywords
// names that X-IMAPbase lists.
func NewWriter(w io.Writer, keywords []string) *Writer {
	return &Writer{w: bufio.NewWriter(w), keywords: keywords}
}

// Write writes one message (any line endings); a zero Date is now.
func (w *Writer) Write(m Message) error {
	var buf bytes.Buffer
	c := toLF(m.Content)
	hdr, body := splitContent(c)
	hdr = filterHeader(hdr)
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	sender := m.Sender
	if sender == "" || strings.ContainsAny(sender, " \t\n") {
		sender = "MAILER-DAEMON"
	}
	// The date in its own zone, which follows, as Dovecot's parser
	// reads it: the received date comes back with its offset.
	buf.WriteString("From " + sender + "  " + weekdays[date.Weekday()] + " " + months[date.Month()-1] + " " +
		date.Format("02 15:04:05 2006 -0700") + "\n")
	buf.Write(hdr)
	if len(hdr) > 0 && hdr[len(hdr)-1] != '\n' {
		buf.WriteByte('\n')
	}
	if w.n == 0 && len(w.keywords) > 0 {
		fmt.Fprintf(&buf, "X-IMAPbase: %d %010d %s\n", time.Now().Unix(), 1, strings.Join(w.keywords, " "))
	}
	buf.WriteString("Status: ")
	if mailstate.HasFlag(m.Flags, storage.FlagSeen) {
		buf.WriteByte('R')
	}
	buf.WriteString("O\n")
	var xs []byte
	for _, x := range []struct {
		c    byte
		flag string
	}{{'A', storage.FlagAnswered}, {'F', storage.FlagFlagged}, {'T', storage.FlagDraft}, {'D', storage.FlagDeleted}} {
		if mailstate.HasFlag(m.Flags, x.flag) {
			xs = append(xs, x.c)
		}
	}
	if len(xs) > 0 {
		fmt.Fprintf(&buf, "X-Status: %s\n", xs)
	}
	if kw := mailstate.Keywords(m.Flags); len(kw) > 0 {
		fmt.Fprintf(&buf, "X-Keywords: %s\n", strings.Join(kw, " "))
	}
	if needsQuoting(body) && bytes.HasSuffix(body, []byte("\n")) {
		buf.WriteByte('\n')
		buf.Write(quote(body))
	} else {
		fmt.Fprintf(&buf, "Content-Length: %d\n\n", len(body))
		buf.Write(body)
	}
	buf.WriteByte('\n')
	w.n++
	_, err := w.w.Write(buf.Bytes())
	return err
}

// Flush writes what is buffered.
func (w *Writer) Flush() error { return w.w.Flush() }

// fromQuoted reports whether a line is "From " after zero or more '>'.
func fromQuoted(l []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(l, ">"), []byte("From "))
}

func needsQuoting(body []byte) bool {
	if !bytes.Contains(body, []byte("From ")) {
		return false
	}
	for _, l := range bytes.SplitAfter(body, []byte("\n")) {
		if fromQuoted(l) {
			return true
		}
	}
	return false
}

// quote is mboxrd quoting, the inverse of unquote: each line that is
// "From " after zero or more '>' gets one '>' more.
func quote(body []byte) []byte {
	var out []byte
	for _, l := range bytes.SplitAfter(body, []byte("\n")) {
		if fromQuoted(l) {
			out = append(out, '>')
		}
		out = append(out, l...)
	}
	return out
}

// SenderOf returns the envelope sender for a message's From_ line: the
// address of its Return-Path, else MAILER-DAEMON.
func SenderOf(msg []byte) string {
	hdr, _ := splitContent(toLF(msg))
	sender := "MAILER-DAEMON"
	headerFields(hdr, func(name string, value []byte) {
		if name != "return-path" {
			return
		}
		if a, err := mail.ParseAddress(strings.TrimSpace(string(value))); err == nil && a.Address != "" {
			sender = a.Address
		}
	})
	return sender
}
