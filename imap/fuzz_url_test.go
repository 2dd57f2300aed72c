package imap

import "testing"

// FuzzIMAPURL parses IMAP URLs (RFC 5092) as CATENATE and URLAUTH take
// them from clients, and extracts what they name from a message.
func FuzzIMAPURL(f *testing.F) {
	for _, s := range []string{
		"imap://minbari.example.org/gray-council;UIDVALIDITY=385759045/;UID=20/;PARTIAL=0.1024",
		"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME",
		"/inbox/;uid=3/;section=HEADER.FIELDS%20(TO%20FROM)/;partial=5",
		"imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred:internal:91354a473744909de610943775f92038",
		"imap://joe@example.com/INBOX/;uid=20;expire=2006-05-16T20:00:00Z;urlauth=anonymous",
		"imap://;AUTH=*@minbari.example.org/gray%20council/;UID=20/;section=2.TEXT",
	} {
		f.Add(s)
	}
	msg := []byte(multipartMsg)
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseIMAPURL(s)
		if err != nil {
			return
		}
		if u.uid == 0 || u.mailbox == "" {
			t.Fatalf("parseIMAPURL(%q) = %+v without UID or mailbox", s, u)
		}
		if u.access != "" && (len(u.rump) > len(s) || s[:len(u.rump)] != u.rump) {
			t.Fatalf("parseIMAPURL(%q): rump %q is no prefix", s, u.rump)
		}
		u.extract(msg)
	})
}

// FuzzBinaryParts runs APPEND's re-encoding of binary parts and BINARY's
// decoding of whole entities (RFC 3516) on any message.
func FuzzBinaryParts(f *testing.F) {
	f.Add([]byte(multipartMsg))
	f.Add([]byte("Content-Transfer-Encoding: binary\r\n\r\n\x00-\xe4\n\r\n\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: binary\n\n\x00\n--b--\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out := encodeBinaryParts(raw)
		root := parseMessage(out)
		binaryEntity(out, root)
		e := &enc{}
		decodedStructure(e, out, root, []int{1})
	})
}
