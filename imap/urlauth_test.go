package imap

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"cote/storage"
	"cote/storage/maildir"
	"cote/storage/memstore"
)

// testStores returns an empty memstore and an empty Maildir.
func testStores(t *testing.T) map[string]storage.Store {
	t.Helper()
	md, err := maildir.Open(maildir.Options{Location: "maildir:~/Maildir", Home: t.TempDir(), User: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { md.Close() })
	return map[string]storage.Store{"memstore": memstore.New(), "maildir": md}
}

// genURLAuth runs GENURLAUTH for one rump URL and returns the URL.
func (c *tconn) genURLAuth(tag, rump string) string {
	c.t.Helper()
	r := c.cmd(tag + ` GENURLAUTH "` + rump + `" INTERNAL`)
	r.want(`* GENURLAUTH "`+rump+`:INTERNAL:*"`, tag+" OK Genurlauth completed.")
	return strings.Trim(strings.TrimPrefix(r.lines[0], "* GENURLAUTH "), `"`)
}

// RFC 4467 sections 7 and 8: GENURLAUTH, URLFETCH and RESETKEY, with the
// example's URLs (section 8) on both stores.
func TestURLAuth(t *testing.T) {
	for name, st := range testStores(t) {
		t.Run(name, func(t *testing.T) {
			uid := appendMsg(t, st, "INBOX", multipartMsg)
			c := serveTest(t, st, Options{Tag: "L", User: "joe"})
			if l := c.readResponse(); !matchLine(l, "L OK [CAPABILITY * URLAUTH URLAUTH=BINARY *] Logged in") {
				t.Fatalf("login reply %q", l)
			}
			base := fmt.Sprintf("imap://joe@example.com/INBOX/;uid=%d", uid)
			part := base + "/;section=1"
			anon := c.genURLAuth("a1", part+";urlauth=anonymous")
			user := c.genURLAuth("a2", base+";urlauth=user+joe")
			other := c.genURLAuth("a3", base+";urlauth=user+fred")
			submit := c.genURLAuth("a4", part+";urlauth=submit+joe")
			expired := c.genURLAuth("a5", part+";expire=2006-01-02T15:04:05Z;urlauth=anonymous")
			future := c.genURLAuth("a6", part+";expire="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+";urlauth=anonymous")

			raw := []byte(multipartMsg)
			root := parseMessage(raw)
			p1, _ := findPart(root, []int{1})
			part1 := multipartMsg[p1.bodyStart:p1.end]
			litOf := func(s string) string { return fmt.Sprintf("{%d}\r\n%s", len(s), s) }
			tampered := anon[:len(anon)-1] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", anon[len(anon)-1])+1)%16])
			for _, tc := range []struct{ url, want string }{
				{anon, litOf(part1)},
				{user, litOf(multipartMsg)},
				{future, litOf(part1)},
				{other, "NIL"},    // user+fred: not this user
				{submit, "NIL"},   // only a submission server may
				{expired, "NIL"},  // RFC 4467 section 3
				{tampered, "NIL"}, // the verifier does not match
				{base + ";urlauth=anonymous", "NIL"},
				{part + ";urlauth=anonymous:INTERNAL:" + strings.Repeat("0", 64), "NIL"},
				{"imap://joe@example.com/INBOX/;uid=999;urlauth=anonymous:INTERNAL:" + strings.Repeat("0", 64), "NIL"},
				{"not a url", "NIL"},
			} {
				c.cmd(`f URLFETCH "`+tc.url+`"`).want(`* URLFETCH "`+tc.url+`" `+tc.want, "f OK Urlfetch completed.")
			}
			// Several URLs in one command, one response each.
			c.cmd(`f2 URLFETCH "`+anon+`" "`+other+`"`).want(
				`* URLFETCH "`+anon+`" `+litOf(part1), `* URLFETCH "`+other+`" NIL`, "f2 OK Urlfetch completed.")

			for _, tc := range []struct{ cmd, want string }{
				{`g1 GENURLAUTH "imap://fred@example.com/INBOX/;uid=1;urlauth=anonymous" INTERNAL`,
					"g1 NO [BADURL imap://fred@example.com/INBOX/;uid=1;urlauth=anonymous] URL is not for the logged-in user."},
				{`g2 GENURLAUTH "imap://joe@example.com/INBOX/;uid=1" INTERNAL`,
					"g2 NO [BADURL imap://joe@example.com/INBOX/;uid=1] Invalid URLAUTH rump URL."},
				{`g3 GENURLAUTH "` + anon + `" INTERNAL`, "g3 NO [BADURL " + anon + "] Invalid URLAUTH rump URL."},
				{`g4 GENURLAUTH "` + base + `;urlauth=anonymous" XSHA1`, "g4 NO Unsupported URLAUTH mechanism XSHA1."},
				{`g5 GENURLAUTH "imap://joe@example.com/Nowhere/;uid=1;urlauth=anonymous" INTERNAL`,
					"g5 NO [NONEXISTENT] Mailbox doesn't exist."},
				{`g6 GENURLAUTH`, "g6 BAD Error in IMAP command GENURLAUTH: expected space"},
				{`r1 RESETKEY Nowhere`, "r1 NO [NONEXISTENT] Mailbox doesn't exist."},
				{`r2 RESETKEY INBOX XSHA1`, "r2 NO Unsupported URLAUTH mechanism XSHA1."},
				{`u1 URLFETCH`, "u1 BAD Error in IMAP command URLFETCH: expected URL"},
				{`u2 URLFETCH ("` + anon + `" BODY BINARY)`, "u2 BAD Error in IMAP command URLFETCH: BODY and BINARY are mutually exclusive"},
			} {
				c.cmd(tc.cmd).want(tc.want)
			}

			// RESETKEY of the mailbox revokes every URL made for it;
			// new ones work (RFC 4467 section 7.1).
			c.cmd("r3 RESETKEY INBOX INTERNAL").want("r3 OK Resetkey completed.")
			c.cmd(`f3 URLFETCH "`+anon+`"`).want(`* URLFETCH "`+anon+`" NIL`, "f3 OK Urlfetch completed.")
			anon2 := c.genURLAuth("a7", part+";urlauth=anonymous")
			if anon2 == anon {
				t.Errorf("GENURLAUTH after RESETKEY gave the old URL %q", anon)
			}
			c.cmd("r4 RESETKEY").want("r4 OK Resetkey completed.")
			c.cmd(`f4 URLFETCH "`+anon2+`"`).want(`* URLFETCH "`+anon2+`" NIL`, "f4 OK Urlfetch completed.")
		})
	}
}

// RFC 5524 section 4's exchanges: URLFETCH with BINARY, BODY and
// BODYPARTSTRUCTURE.
func TestURLFetchBinary(t *testing.T) {
	msg := crlf(`From: a@example.com
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

Hi.
--b
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

AAECAw==
--b
Content-Type: text/plain
Content-Transfer-Encoding: x-unknown

??
--b--
`)
	st := memstore.New()
	uid := appendMsg(t, st, "INBOX", msg)
	c := login(t, st)
	base := fmt.Sprintf("imap://test@example.com/INBOX/;uid=%d", uid)
	u2 := c.genURLAuth("a1", base+"/;section=2;urlauth=anonymous")
	u3 := c.genURLAuth("a2", base+"/;section=3;urlauth=anonymous")
	uh := c.genURLAuth("a3", base+"/;section=HEADER;urlauth=anonymous")
	bs := `("application" "octet-stream" NIL NIL NIL "base64" 8 NIL NIL NIL NIL)`
	for _, tc := range []struct{ args, want string }{
		{`("` + u2 + `" BINARY)`, `* URLFETCH "` + u2 + `" (BINARY ~{4}` + "\r\n\x00\x01\x02\x03)"},
		{`("` + u2 + `" BODYPARTSTRUCTURE)`, `* URLFETCH "` + u2 + `" (BODYPARTSTRUCTURE ` + bs + `)`},
		{`("` + u2 + `" BODY BODYPARTSTRUCTURE)`, `* URLFETCH "` + u2 + `" (BODYPARTSTRUCTURE ` + bs + " BODY {8}\r\nAAECAw==)"},
		// Dovecot's sizes when both are asked: those of the decoded part.
		{`("` + u2 + `" BINARY BODYPARTSTRUCTURE)`, `* URLFETCH "` + u2 + `" (BODYPARTSTRUCTURE ("application" "octet-stream" NIL NIL NIL "base64" 4 NIL NIL NIL NIL) BINARY ~{4}` + "\r\n\x00\x01\x02\x03)"},
		// RFC 5524 section 3.1: an encoding the server cannot undo.
		{`("` + u3 + `" BINARY)`, `* URLFETCH "` + u3 + `" (BINARY NIL)`},
		// BINARY and BODYPARTSTRUCTURE name body parts only.
		{`("` + uh + `" BINARY)`, `* URLFETCH "` + uh + `" NIL`},
		{`("` + uh + `")`, `* URLFETCH "` + uh + `" ()`},
	} {
		c.cmd("f URLFETCH "+tc.args).want(tc.want, "f OK Urlfetch completed.")
	}
}

// RFC 4467 section 3 "authuser": a URL of one user fetched by another
// through Options.URLAuthFetch (imaptest's urlauth2); without the hook
// such URLs fetch NIL.
func TestURLAuthOtherUser(t *testing.T) {
	stores := map[string]storage.Store{"joe": memstore.New(), "fred": memstore.New()}
	uid := appendMsg(t, stores["joe"], "INBOX", simpleMsg)
	fetch := func(_ context.Context, req URLAuthRequest) (URLAuthResult, error) {
		st, ok := stores[req.Owner]
		if !ok {
			return URLAuthResult{}, nil
		}
		return FetchURLAuth(st, req)
	}
	joe := serveTest(t, stores["joe"], Options{Tag: "L", User: "joe"})
	joe.readResponse()
	base := fmt.Sprintf("imap://joe@example.com/INBOX/;uid=%d", uid)
	authuser := joe.genURLAuth("a1", base+";urlauth=authuser")
	onlyJoe := joe.genURLAuth("a2", base+";urlauth=user+joe")
	forFred := joe.genURLAuth("a3", base+";urlauth=user+fred")

	fred := serveTest(t, stores["fred"], Options{Tag: "L", User: "fred", URLAuthFetch: fetch})
	fred.readResponse()
	fred.cmd(`f1 URLFETCH "`+authuser+`"`).want(`* URLFETCH "`+authuser+`" `+lit(simpleMsg), "f1 OK Urlfetch completed.")
	fred.cmd(`f2 URLFETCH "`+forFred+`"`).want(`* URLFETCH "`+forFred+`" `+lit(simpleMsg), "f2 OK Urlfetch completed.")
	fred.cmd(`f3 URLFETCH "`+onlyJoe+`"`).want(`* URLFETCH "`+onlyJoe+`" NIL`, "f3 OK Urlfetch completed.")
	// CATENATE takes a URLAUTH URL from another user too (RFC 4469
	// section 3).
	fred.cmd(`c1 APPEND INBOX CATENATE (URL "` + authuser + `")`).want("c1 OK [APPENDUID * 1] Append completed.")
	joe.cmd("r1 RESETKEY INBOX").ok()
	fred.cmd(`f4 URLFETCH "`+authuser+`"`).want(`* URLFETCH "`+authuser+`" NIL`, "f4 OK Urlfetch completed.")
	fred.cmd(`c2 APPEND INBOX CATENATE (URL "` + authuser + `")`).want("c2 NO [BADURL " + authuser + "] Unable to fetch the URL.")

	noHook := serveTest(t, stores["fred"], Options{Tag: "L", User: "fred"})
	noHook.readResponse()
	u := joe.genURLAuth("a4", base+";urlauth=authuser")
	noHook.cmd(`f5 URLFETCH "`+u+`"`).want(`* URLFETCH "`+u+`" NIL`, "f5 OK Urlfetch completed.")
}

// Keys persist in the Maildir: a URL made before the store is reopened
// still fetches; a mailbox deleted and made again has a new key.
func TestURLAuthKeysPersist(t *testing.T) {
	home := t.TempDir()
	open := func() storage.Store {
		st, err := maildir.Open(maildir.Options{Location: "maildir:~/Maildir", Home: home, User: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	if err := st.Create("Box", nil); err != nil {
		t.Fatal(err)
	}
	uid := appendMsg(t, st, "Box", simpleMsg)
	c := login(t, st)
	u := c.genURLAuth("a1", fmt.Sprintf("imap://test@example.com/Box/;uid=%d;urlauth=user+test", uid))
	c.cmd("l LOGOUT").ok()
	st.Close()

	st = open()
	t.Cleanup(func() { st.Close() })
	c = login(t, st)
	c.cmd(`f1 URLFETCH "`+u+`"`).want(`* URLFETCH "`+u+`" `+lit(simpleMsg), "f1 OK Urlfetch completed.")
	c.cmd("d1 DELETE Box").ok()
	c.cmd("d2 CREATE Box").ok()
	c.cmd(`f2 URLFETCH "`+u+`"`).want(`* URLFETCH "`+u+`" NIL`, "f2 OK Urlfetch completed.")
}
