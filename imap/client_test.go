package imap

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"cote/storage"
	"cote/storage/memstore"
)

// dialClient plays the login process: it greets, reads the client's
// LOGIN and hands the connection to Serve with that tag, as the worker
// gets it.
func dialClient(t *testing.T, st storage.Store, h *imapclient.UnilateralDataHandler) *imapclient.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		io.WriteString(conn, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] cote ready.\r\n")
		br := bufio.NewReader(conn)
		line, err := br.ReadString('\n')
		if err != nil {
			done <- err
			return
		}
		tag, _, _ := strings.Cut(line, " ")
		var leftover []byte
		if n := br.Buffered(); n > 0 {
			leftover, _ = br.Peek(n)
		}
		done <- Serve(ctx, conn, Options{Store: st, User: "u", Tag: tag, Leftover: leftover,
			Log: slog.New(slog.DiscardHandler), NoAutoMailboxes: true})
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := imapclient.New(conn, &imapclient.Options{UnilateralDataHandler: h})
	t.Cleanup(func() {
		c.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	if err := c.Login("u", "p").Wait(); err != nil {
		t.Fatalf("Login: %v", err)
	}
	return c
}

func TestIMAPClient(t *testing.T) {
	st := memstore.New()
	c := dialClient(t, st, nil)
	if !c.Caps().Has(imap.CapMove) || !c.Caps().Has(imap.CapUIDPlus) {
		t.Fatalf("caps = %v", c.Caps())
	}
	if err := c.Create("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	ac := c.Append("INBOX", int64(len(multipartMsg)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagFlagged}})
	io.WriteString(ac, multipartMsg)
	ac.Close()
	ad, err := ac.Wait()
	if err != nil || ad.UID != 1 {
		t.Fatalf("Append = %+v, %v", ad, err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 1 || sel.UIDNext != 2 {
		t.Fatalf("Select = %+v, %v", sel, err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		Envelope: true, Flags: true, UID: true, RFC822Size: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{{Part: []int{2, 1}}},
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Fetch = %v, %v", msgs, err)
	}
	m := msgs[0]
	if m.Envelope.Subject != "Grüße" || m.Envelope.From[0].Name != "Jürgen" || m.Envelope.From[0].Addr() != "jurgen@example.com" {
		t.Errorf("Envelope = %+v", m.Envelope)
	}
	mp, ok := m.BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || mp.Subtype != "mixed" || len(mp.Children) != 3 {
		t.Fatalf("BodyStructure = %#v", m.BodyStructure)
	}
	if inner := mp.Children[2].(*imap.BodyStructureSinglePart); inner.MessageRFC822 == nil || inner.MessageRFC822.Envelope.Subject != "inner" {
		t.Errorf("message/rfc822 part = %#v", inner)
	}
	if got := string(m.FindBodySection(&imap.FetchItemBodySection{Part: []int{2, 1}})); got != "plain alt" {
		t.Errorf("BODY[2.1] = %q", got)
	}
	if !hasFlag(m.Flags, imap.FlagSeen) {
		t.Errorf("flags after BODY[] fetch = %v, want \\Seen", m.Flags)
	}

	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: []imap.Flag{imap.FlagSeen}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	sd, err := c.Search(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}, Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "grüße"}}}, nil).Wait()
	if err != nil || len(sd.AllSeqNums()) != 1 {
		t.Fatalf("Search = %v, %v", sd, err)
	}
	md, err := c.Move(imap.UIDSetNum(1), "Archive").Wait()
	if err != nil || md.DestUIDs.String() != "1" {
		t.Fatalf("Move = %+v, %v", md, err)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, x := range flags {
		if strings.EqualFold(string(x), string(f)) {
			return true
		}
	}
	return false
}

func TestIMAPClientIdle(t *testing.T) {
	st := memstore.New()
	exists := make(chan uint32, 10)
	c := dialClient(t, st, &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		},
	})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	other := dialClient(t, st, nil)
	ac := other.Append("INBOX", int64(len(simpleMsg)), nil)
	io.WriteString(ac, simpleMsg)
	ac.Close()
	if _, err := ac.Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-exists:
		if n != 1 {
			t.Errorf("EXISTS %d, want 1", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("IDLE did not report the new message")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}
