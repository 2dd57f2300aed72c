package imap

import (
	"testing"
)

// FuzzSearchProgram parses SEARCH arguments: RETURN options, CHARSET and
// keys (RFC 9051 section 6.4.4, RFC 4731, RFC 5032, RFC 7162, RFC 8514).
func FuzzSearchProgram(f *testing.F) {
	for _, s := range []string{
		"ALL", "RETURN (MIN MAX COUNT ALL SAVE) UNSEEN", "RETURN () 1:3,$",
		`CHARSET UTF-8 OR FROM "a" (TO b NOT CC {3}` + "\r\nxyz)",
		`MODSEQ "/flags/\\draft" all 620162338`, "YOUNGER 3600 OLDER 1 SAVEDSINCE 1-Feb-1994",
		"HEADER Message-ID <x> UID 1:* LARGER 10 SMALLER 4294967296", "((((NOT SEEN))))",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := &parser{b: []byte(s)}
		parseReturnOpts(p)
		parseSearchKeys(p, 0)
		p.end()
	})
}

// FuzzSortThread parses SORT criteria (RFC 5256, RFC 5957) and runs the
// base-subject extraction on the rest.
func FuzzSortThread(f *testing.F) {
	for _, s := range []string{
		"(REVERSE ARRIVAL SUBJECT) UTF-8 ALL", "(DISPLAYFROM) US-ASCII SEEN",
		"RETURN (MIN) (DATE) utf-8 1:*", "(REVERSE)", "Re: [list] Fwd: [fwd: hello] (fwd)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := &parser{b: []byte(s)}
		parseReturnOpts(p)
		parseSortCriteria(p)
		baseSubject(s)
		msgIDs(s)
	})
}

// FuzzQresyncParams parses SELECT's QRESYNC parameters and the FETCH and
// STORE modifiers (RFC 7162 sections 3.1.3, 3.1.4.1, 3.2.5, 3.2.6).
func FuzzQresyncParams(f *testing.F) {
	for _, s := range []string{
		"(67890007 20050715194045000 41,43:211,214:541)",
		"(67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976:29979))",
		"(1 1)", "(CHANGEDSINCE 12345 VANISHED)", "(UNCHANGEDSINCE 0)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, parse := range []func(*parser){
			func(p *parser) { parseQresync(p) },
			func(p *parser) { parseFetchModifiers(p) },
			func(p *parser) { parseStoreModifiers(p) },
		} {
			p := &parser{b: []byte(s)}
			parse(p)
			p.end()
		}
	})
}

// FuzzBinaryDecode undoes transfer encodings of arbitrary bodies.
func FuzzBinaryDecode(f *testing.F) {
	f.Add("base64", "AAEC\r\n==")
	f.Add("quoted-printable", "a=3D=\r\nb=ZZ")
	f.Fuzz(func(t *testing.T, cte, body string) {
		decodeCTE(cte, []byte(body))
	})
}

// FuzzNotify parses NOTIFY's arguments (RFC 5465 section 8) and SEARCH's
// RFC 5267 return options (PARTIAL, UPDATE with RFC 5465 section 7's
// fetch attributes, CONTEXT).
func FuzzNotify(f *testing.F) {
	for _, s := range []string{
		"SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) (subtree Lists/Lemonade (MessageNew MessageExpunge))",
		"SET (selected-delayed (MessageNew MessageExpunge FlagChange)) (personal (MailboxName SubscriptionChange)) (mailboxes (INBOX Junk) NONE)",
		"SET (inboxes (MessageNew MessageExpunge AnnotationChange)) (subscribed NONE)", "NONE",
		"RETURN (COUNT UPDATE (UID BODY[HEADER.FIELDS (TO FROM SUBJECT)])) FROM \"boss\"",
		"RETURN (PARTIAL 500:400 CONTEXT MIN) UNDELETED UNKEYWORD $Junk", "RETURN (UPDATE PARTIAL 1:*) ALL",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := &parser{b: []byte(s)}
		if p.peek() == 'R' {
			ro := parseReturnOpts(p)
			if ro.partial && p.err == nil && (ro.lo == 0 || ro.lo > ro.hi) {
				t.Fatalf("PARTIAL %d:%d accepted from %q", ro.lo, ro.hi, s)
			}
			return
		}
		p.atom()
		if p.trySP() {
			parseNotifySet(p)
		}
		p.end()
	})
}
