package storage

import (
	"fmt"
	"slices"
	"testing"
)

func TestChangeFeed(t *testing.T) {
	stopped := 0
	f := NewChangeFeed(func() { stopped++ })
	a := MailboxChange{Kind: ChangeMessages, Mailbox: "A"}
	b := MailboxChange{Kind: ChangeCreated, Mailbox: "B"}
	f.Push(a, b, a)
	f.Push(a)
	select {
	case <-f.Ready():
	default:
		t.Fatal("Ready not signalled after Push")
	}
	if got, over := f.Take(); over || !slices.Equal(got, []MailboxChange{a, b}) {
		t.Fatalf("Take() = %v, %v; want [A messages, B created], false", got, over)
	}
	// After Take, a message change to A is new again.
	f.Push(a)
	if got, _ := f.Take(); !slices.Equal(got, []MailboxChange{a}) {
		t.Fatalf("Take() = %v, want [A messages]", got)
	}
	for i := range MaxPendingChanges + 1 {
		f.Push(MailboxChange{Kind: ChangeCreated, Mailbox: fmt.Sprint(i)})
	}
	if got, over := f.Take(); !over || len(got) != 0 {
		t.Fatalf("Take() after %d changes = %d changes, overflow %v; want none, true", MaxPendingChanges+1, len(got), over)
	}
	if got, over := f.Take(); over || len(got) != 0 {
		t.Fatalf("second Take() = %v, %v; want nothing", got, over)
	}
	f.Stop()
	f.Stop()
	f.Push(a)
	if got, _ := f.Take(); len(got) != 0 || stopped != 1 {
		t.Fatalf("after Stop: Take() = %v, stop called %d times; want nothing, once", got, stopped)
	}
}
