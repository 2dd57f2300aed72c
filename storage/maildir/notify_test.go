package maildir

import (
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cote/storage"
)

// TestChangeNotifier: the notifier of a mailbox becomes readable when a
// message arrives in it, and not for another mailbox.
func TestChangeNotifier(t *testing.T) {
	st := openTest(t, "maildir:~/Maildir")
	if err := st.Create("Other", nil); err != nil {
		t.Fatal(err)
	}
	n, ok := st.(interface {
		ChangeNotifier(string) (*os.File, error)
	})
	if !ok {
		t.Fatal("the maildir store has no ChangeNotifier")
	}
	f, err := n.ChangeNotifier("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	readable := func() bool {
		fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLIN}}
		k, _ := unix.Poll(fds, int((200 * time.Millisecond).Milliseconds()))
		return k == 1
	}
	if _, _, err := st.Append("Other", strings.NewReader("Subject: x\r\n\r\nx\r\n"), storage.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if readable() {
		t.Error("INBOX's notifier fired for a message to Other")
	}
	if _, _, err := st.Append("INBOX", strings.NewReader("Subject: x\r\n\r\nx\r\n"), storage.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if !readable() {
		t.Error("INBOX's notifier did not fire for a message to INBOX")
	}
	if _, err := n.ChangeNotifier("../x"); err == nil {
		t.Error("ChangeNotifier accepted an invalid name")
	}
}
