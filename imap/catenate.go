package imap

import (
	"errors"
	"io"
	"slices"
	"strings"

	"cote/storage"
)

// catPart is one cat-part of a CATENATE (RFC 4469 section 5): the text
// of a literal, or a URL naming message data.
type catPart struct {
	text  []byte
	url   string
	isURL bool
}

// maxCatParts bounds the parts of one CATENATE.
const maxCatParts = 1000

// parseCatenate parses "CATENATE" SP "(" cat-part *(SP cat-part) ")"
// (RFC 4469 section 5); cat-part is "TEXT" SP literal or "URL" SP
// astring, and with BINARY a TEXT may be a literal8 (RFC 4469 section 6).
func parseCatenate(p *parser) []catPart {
	if !strings.EqualFold(p.atom(), "CATENATE") {
		p.fail("expected message literal")
		return nil
	}
	p.sp()
	parts := []catPart{}
	p.list(func() {
		if len(parts) >= maxCatParts {
			p.fail("too many CATENATE parts")
			return
		}
		switch kind := strings.ToUpper(p.atom()); kind {
		case "TEXT":
			p.sp()
			b, _ := p.literal8()
			parts = append(parts, catPart{text: b})
		case "URL":
			p.sp()
			parts = append(parts, catPart{url: p.astring(), isURL: true})
		default:
			p.fail("unknown CATENATE part %q", truncate(kind, 20))
		}
	})
	if p.err == nil && len(parts) == 0 {
		p.fail("empty CATENATE")
	}
	return parts
}

// catenate builds the messages of an APPEND's CATENATE items (RFC 4469
// section 3) before anything is stored, so a MULTIAPPEND fails as a
// whole: a missing destination is [TRYCREATE] before any URL is looked
// at, a URL that names nothing the user may read is [BADURL url], a
// result over the APPEND limit is [TOOBIG].
func (s *session) catenate(dest string, msgs []appendItem) error {
	if !slices.ContainsFunc(msgs, func(m appendItem) bool { return m.cat != nil }) {
		return nil
	}
	if _, err := s.o.Store.Status(dest); err != nil {
		return destination(err)
	}
	for i := range msgs {
		m := &msgs[i]
		if m.cat == nil {
			continue
		}
		var data []byte
		for _, cp := range m.cat {
			b := cp.text
			if cp.isURL {
				var err error
				if b, err = s.catURL(cp.url); err != nil {
					return err
				}
			}
			if int64(len(data))+int64(len(b)) > s.o.MaxLiteral {
				return errNo("TOOBIG", "Message too large.")
			}
			data = append(data, b...)
		}
		m.data = data
	}
	return nil
}

// catURL returns the data a CATENATE URL names: a message part in one
// of the user's mailboxes, or one a URLAUTH-authorized URL gives
// access to (RFC 4469 section 3).
func (s *session) catURL(raw string) ([]byte, error) {
	bad := errNo(badURLCode(raw), "Unable to fetch the URL.")
	u, err := parseIMAPURL(raw)
	if err != nil {
		return nil, errNo(badURLCode(raw), "Invalid IMAP URL.")
	}
	if u.access != "" {
		res, err := s.urlAuthFetch(raw, u, urlFetchWant{body: true})
		if err != nil {
			return nil, err
		}
		if !res.Found || res.Body == nil {
			return nil, bad
		}
		return res.Body, nil
	}
	if u.absolute && u.user != s.o.User {
		return nil, bad
	}
	b, ok, err := readURL(s.o.Store, u)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, bad
	}
	return b, nil
}

// badURLCode is the response code "BADURL" SP url (RFC 4469 section 5);
// a URL that cannot be written in a response code is left out.
func badURLCode(url string) string {
	if len(url) > 1024 || strings.ContainsAny(url, "]\r\n\x00") {
		return "BADURL"
	}
	return "BADURL " + url
}

// readURL returns the data u names in st; ok is false when the mailbox,
// the UIDVALIDITY, the message or the section do not match.
func readURL(st storage.Store, u *imapURL) (b []byte, ok bool, err error) {
	raw, ok, err := readURLMessage(st, u)
	if err != nil || !ok {
		return nil, false, err
	}
	b, ok, err = u.extract(raw)
	if errors.Is(err, errBadURL) {
		return nil, false, nil
	}
	return b, ok, err
}

// readURLMessage reads the message u names from a read-only open of its
// mailbox.
func readURLMessage(st storage.Store, u *imapURL) ([]byte, bool, error) {
	mb, err := st.Open(u.mailbox, true)
	if errors.Is(err, storage.ErrNoSuchMailbox) || errors.Is(err, storage.ErrInvalidName) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer mb.Close()
	if u.uidValidity != 0 {
		stat, err := mb.Status()
		if err != nil {
			return nil, false, err
		}
		if stat.UIDValidity != u.uidValidity {
			return nil, false, nil
		}
	}
	msgs := mb.Messages()
	if _, found := slices.BinarySearchFunc(msgs, u.uid, func(m storage.Message, uid uint32) int {
		return int(int64(m.UID) - int64(uid))
	}); !found {
		return nil, false, nil
	}
	rc, err := mb.Read(u.uid)
	if errors.Is(err, storage.ErrNoSuchMessage) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxFetchMessage))
	if err != nil {
		return nil, false, err
	}
	return raw, true, nil
}
