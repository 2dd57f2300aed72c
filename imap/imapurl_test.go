package imap

import (
	"reflect"
	"testing"
	"time"
)

// IMAP URLs as CATENATE and URLAUTH use them: RFC 5092 section 7's and
// RFC 4467 section 8's examples and RFC 4469 section 4's relative URLs.
func TestParseIMAPURL(t *testing.T) {
	long := "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred"
	for _, tc := range []struct {
		in   string
		want *imapURL
	}{
		{"imap://minbari.example.org/gray-council;UIDVALIDITY=385759045/;UID=20/;PARTIAL=0.1024",
			&imapURL{absolute: true, host: "minbari.example.org", mailbox: "gray-council", uidValidity: 385759045,
				uid: 20, partial: true, origin: 0, length: 1024}},
		{"imap://psicorp.example.org/~peter/%E6%97%A5%E6%9C%AC%E8%AA%9E/%E5%8F%B0%E5%8C%97/;UID=11",
			&imapURL{absolute: true, host: "psicorp.example.org", mailbox: "~peter/日本語/台北", uid: 11}},
		{"imap://;AUTH=*@minbari.example.org/gray%20council/;UID=20", nil},
		{"imap://michael@minbari.example.org/users.*", nil},
		{"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME",
			&imapURL{mailbox: "Drafts", uidValidity: 385759045, uid: 20, section: "1.MIME"}},
		{"/inbox/;uid=3/;section=HEADER.FIELDS%20(TO%20FROM)/;partial=5",
			&imapURL{mailbox: "INBOX", uid: 3, section: "HEADER.FIELDS (TO FROM)", partial: true, origin: 5}},
		{long, &imapURL{absolute: true, user: "joe", host: "example.com", mailbox: "INBOX", uid: 20, section: "1.2",
			access: "submit", accessUser: "fred", rump: long}},
		{long + ":internal:91354a473744909de610943775f92038",
			&imapURL{absolute: true, user: "joe", host: "example.com", mailbox: "INBOX", uid: 20, section: "1.2",
				access: "submit", accessUser: "fred", rump: long, mechanism: "internal", verifier: "91354a473744909de610943775f92038"}},
		{"imap://joe@example.com/INBOX/;uid=20;expire=2006-05-16T20:00:00Z;urlauth=anonymous",
			&imapURL{absolute: true, user: "joe", host: "example.com", mailbox: "INBOX", uid: 20,
				expire: time.Date(2006, 5, 16, 20, 0, 0, 0, time.UTC), access: "anonymous",
				rump: "imap://joe@example.com/INBOX/;uid=20;expire=2006-05-16T20:00:00Z;urlauth=anonymous"}},
		{"imap://j%40x@example.com/a/;uid=1;urlauth=user+j%40x",
			&imapURL{absolute: true, user: "j@x", host: "example.com", mailbox: "a", uid: 1, access: "user", accessUser: "j@x",
				rump: "imap://j%40x@example.com/a/;uid=1;urlauth=user+j%40x"}},
		// Not message data, or not well-formed.
		{"", nil},
		{"INBOX/;UID=1", nil},
		{"/INBOX", nil},
		{"/INBOX/;UID=0", nil},
		{"/INBOX;UID=1", nil},
		{"/INBOX/;UID=1/;PARTIAL=1.0", nil},
		{"/INBOX/;UID=1;SECTION=1", nil},
		{"/INBOX/;UID=1/;SECTION=1/;BOGUS=1", nil},
		{"/INBOX/;UID=1;urlauth=user", nil},
		{"/INBOX/;UID=1;urlauth=anonymous:INTERNAL:abc", nil},
		{"/INBOX/;UID=1;urlauth=anonymous:INTERNAL:" + "zz" + "0123456789abcdef0123456789abcdef", nil},
		{"/INBOX/;UID=1;expire=tomorrow;urlauth=anonymous", nil},
		{"/IN BOX/;UID=1", nil},
		{"/%FF/;UID=1", nil},
		{"imap:///INBOX/;UID=1", nil},
	} {
		got, err := parseIMAPURL(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("parseIMAPURL(%q) = %+v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseIMAPURL(%q) = %+v, %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}
