package imap

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"cote/storage/memstore"
)

// fuzzStates put the session in each state a client can reach in the
// worker before the fuzzed bytes arrive: authenticated, selected
// read-write and read-only, after ENABLE (QRESYNC, UTF8=ACCEPT), in
// IDLE, and in the middle of a literal.
var fuzzStates = []string{
	"",
	"s SELECT INBOX\r\n",
	"s EXAMINE INBOX\r\n",
	"e ENABLE QRESYNC UTF8=ACCEPT\r\ns SELECT INBOX (QRESYNC (1 1))\r\n",
	"s SELECT INBOX\r\ni IDLE\r\n",
	"s SELECT INBOX\r\na APPEND INBOX {40}\r\n",
}

// FuzzSession drives a whole session over a memstore holding a few
// messages with arbitrary client bytes in every post-login state: the
// engine must not panic, and once the client goes away Serve must
// return (no goroutine left waiting on a half-read command).
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"a FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.10> BINARY[1] ENVELOPE BODYSTRUCTURE)\r\n",
		"a UID SEARCH RETURN (MIN MAX COUNT SAVE) OR SUBJECT x BODY {1+}\r\ny\r\nb FETCH $ UID\r\n",
		"a STORE 1:2 +FLAGS.SILENT (\\Deleted kw)\r\nb EXPUNGE\r\nc NOOP\r\n",
		"a SORT (REVERSE ARRIVAL) UTF-8 ALL\r\nb THREAD REFERENCES UTF-8 ALL\r\n",
		"a NOTIFY SET (SELECTED (MessageNew (UID FLAGS) MessageExpunge)) (PERSONAL (MailboxName))\r\n",
		"a APPEND INBOX (\\Seen) CATENATE (URL \"/INBOX;UIDVALIDITY=1/;UID=1\" TEXT {3+}\r\nabc)\r\n",
		"a GENURLAUTH \"imap://test@host/INBOX/;uid=1;urlauth=anonymous\" INTERNAL\r\n",
		"DONE\r\na LIST \"\" * RETURN (STATUS (MESSAGES SIZE) SPECIAL-USE)\r\n",
		"a COMPRESS DEFLATE\r\n\x00\x01",
		"a SELECT INBOX (CONDSTORE)\r\nb UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n",
		"0123456789012345678901234567890123456789\r\n",
	} {
		for st := range fuzzStates {
			f.Add(uint8(st), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, state uint8, in []byte) {
		store := memstore.New()
		appendMsg(t, store, "INBOX", "From: a@example.org\r\nSubject: one\r\n\r\nbody one\r\n", `\Seen`)
		appendMsg(t, store, "INBOX", "From: b@example.org\r\nSubject: two\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\npart\r\n--x--\r\n")
		client, server := net.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			Serve(ctx, server, Options{Store: store, User: "test", NoAutoMailboxes: true,
				Log: slog.New(slog.DiscardHandler)})
		}()
		go io.Copy(io.Discard, client)
		client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		client.Write([]byte(fuzzStates[int(state)%len(fuzzStates)]))
		client.Write(in)
		client.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Serve did not return after the client went away (input %q)", in)
		}
	})
}
