package worker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"cote/storage"
	"cote/storage/memstore"
)

func TestMailLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	if newMailLog(map[string]string{}, log) != nil {
		t.Fatal("mail_log active without mail_log_events")
	}
	ml := newMailLog(map[string]string{
		"mail_log_events": "delete expunge copy save mailbox_create mailbox_rename flag_change",
		"mail_log_fields": "uid box flags",
	}, log)
	st := ml.wrapStore(memstore.New())
	if err := st.Create("Archive", nil); err != nil {
		t.Fatal(err)
	}
	_, uid, err := st.Append("INBOX", strings.NewReader("Subject: x\r\n\r\nbody\r\n"), storage.AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := st.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	if _, err := mb.Copy([]uint32{uid}, "Archive"); err != nil {
		t.Fatal(err)
	}
	if _, err := mb.Store([]uint32{uid}, storage.FlagsAdd, []string{storage.FlagSeen}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := mb.Store([]uint32{uid}, storage.FlagsAdd, []string{storage.FlagDeleted}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := mb.Expunge(nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Rename("Archive", "Old"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"event=mailbox_create box=Archive",
		"event=save box=INBOX uid=1",
		"event=copy box=INBOX dest=Archive uids=1",
		`event=flag_change box=INBOX uid=1 flags=\Seen`,
		"event=delete box=INBOX uid=1",
		"event=expunge box=INBOX uid=1",
		"event=mailbox_rename box=Archive new=Old",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("mail_log lacks %q:\n%s", want, out)
		}
	}
	// The wrapper keeps optional interfaces reachable.
	if _, ok := mb.(storage.TextSearchMailbox); !ok {
		t.Error("wrapped mailbox hides TextSearchMailbox")
	}
}

// The wrapper keeps URLAUTH's keys visible (storage.URLAuthStore), so
// the IMAP engine advertises URLAUTH with mail_log on.
func TestMailLogKeepsURLAuthStore(t *testing.T) {
	ml := newMailLog(map[string]string{"mail_log_events": "save"}, slog.New(slog.DiscardHandler))
	st := ml.wrapStore(memstore.New())
	if _, ok := st.(*loggedURLAuthStore); !ok {
		t.Fatalf("wrapStore(memstore) = %T, not a storage.URLAuthStore", st)
	}
}
