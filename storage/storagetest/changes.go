package storagetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"cote/storage"
)

// testChanges checks storage.ChangeStore: each operation reports which
// mailbox changed and how, in order, with message changes to one
// mailbox coalesced until the watcher takes them.
func testChanges(t *testing.T, s storage.Store, o Options) {
	cs, ok := s.(storage.ChangeStore)
	if !ok {
		t.Fatalf("%T does not implement storage.ChangeStore", s)
	}
	feed := cs.WatchChanges()
	defer feed.Stop()
	msgs := func(name string) storage.MailboxChange {
		return storage.MailboxChange{Kind: storage.ChangeMessages, Mailbox: name}
	}
	take := func(what string, want ...storage.MailboxChange) {
		t.Helper()
		if len(want) > 0 {
			select {
			case <-feed.Ready():
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: feed not ready", what)
			}
		}
		got, overflow := feed.Take()
		if overflow || !slices.Equal(got, want) {
			t.Fatalf("%s: Take() = %s, %v; want %s", what, fmtChanges(got), overflow, fmtChanges(want))
		}
	}

	mustCreate(t, s, "A")
	take("Create", storage.MailboxChange{Kind: storage.ChangeCreated, Mailbox: "A"})
	mustAppend(t, s, "A", msg1)
	mustAppend(t, s, "A", msg1)
	mustAppend(t, s, "INBOX", msg1)
	take("Append", msgs("A"), msgs("INBOX"))

	mb := mustOpen(t, s, "A", false)
	defer mb.Close()
	if _, err := mb.Store([]uint32{1}, storage.FlagsAdd, []string{storage.FlagDeleted}, 0); err != nil {
		t.Fatalf("Store: %v", err)
	}
	take("Store", msgs("A"))
	if _, err := mb.Copy([]uint32{1}, "INBOX"); err != nil {
		t.Fatalf("Copy: %v", err)
	}
	take("Copy", msgs("INBOX"))
	if _, err := mb.Expunge(nil); err != nil {
		t.Fatalf("Expunge: %v", err)
	}
	take("Expunge", msgs("A"))
	if _, err := mb.Move([]uint32{2}, "INBOX"); err != nil {
		t.Fatalf("Move: %v", err)
	}
	take("Move", msgs("INBOX"), msgs("A"))

	if err := s.SetSubscribed("A", true); err != nil {
		t.Fatalf("SetSubscribed: %v", err)
	}
	if err := s.SetSubscribed("A", false); err != nil {
		t.Fatalf("SetSubscribed: %v", err)
	}
	take("SetSubscribed",
		storage.MailboxChange{Kind: storage.ChangeSubscribed, Mailbox: "A"},
		storage.MailboxChange{Kind: storage.ChangeUnsubscribed, Mailbox: "A"})

	mustCreate(t, s, "R")
	if err := s.Rename("R", "S"); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	take("Rename",
		storage.MailboxChange{Kind: storage.ChangeCreated, Mailbox: "R"},
		storage.MailboxChange{Kind: storage.ChangeRenamed, Mailbox: "S", OldName: "R"})
	if !o.NoInferiors {
		d := string(s.Delimiter())
		mustCreate(t, s, "S"+d+"T")
		if err := s.Rename("S", "U"); err != nil {
			t.Fatalf("Rename: %v", err)
		}
		take("Rename with children",
			storage.MailboxChange{Kind: storage.ChangeCreated, Mailbox: "S" + d + "T"},
			storage.MailboxChange{Kind: storage.ChangeRenamed, Mailbox: "U", OldName: "S"},
			storage.MailboxChange{Kind: storage.ChangeRenamed, Mailbox: "U" + d + "T", OldName: "S" + d + "T"})
		if err := s.Delete("U" + d + "T"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		take("Delete child", storage.MailboxChange{Kind: storage.ChangeDeleted, Mailbox: "U" + d + "T"})
		if err := s.Rename("U", "S"); err != nil {
			t.Fatalf("Rename: %v", err)
		}
		take("Rename back", storage.MailboxChange{Kind: storage.ChangeRenamed, Mailbox: "S", OldName: "U"})
	}
	if err := s.Delete("S"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	take("Delete", storage.MailboxChange{Kind: storage.ChangeDeleted, Mailbox: "S"})

	// A second feed sees the same; a stopped one sees nothing more.
	other := cs.WatchChanges()
	feed.Stop()
	feed.Stop()
	mustAppend(t, s, "A", msg1)
	take("after Stop")
	select {
	case <-other.Ready():
	case <-time.After(5 * time.Second):
		t.Fatalf("second feed not ready")
	}
	if got, _ := other.Take(); !slices.Equal(got, []storage.MailboxChange{msgs("A")}) {
		t.Fatalf("second feed: Take() = %s, want A messages", fmtChanges(got))
	}
	other.Stop()
}

func fmtChanges(cs []storage.MailboxChange) string {
	kinds := []string{"messages", "created", "deleted", "renamed", "subscribed", "unsubscribed"}
	out := "["
	for i, c := range cs {
		if i > 0 {
			out += " "
		}
		k := fmt.Sprint(int(c.Kind))
		if int(c.Kind) < len(kinds) {
			k = kinds[c.Kind]
		}
		out += k + ":" + c.Mailbox
		if c.OldName != "" {
			out += "<-" + c.OldName
		}
	}
	return out + "]"
}
