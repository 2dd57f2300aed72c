// Package storagetest is the conformance suite every storage.Store backend
// passes: Run it from the backend's tests with a function that opens a
// fresh, empty store.
package storagetest

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"cote/storage"
)

// Run runs the suite. open returns a new, empty store each time; the suite
// closes it.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	RunOptions(t, Options{}, open)
}

// Options describe what a backend cannot do, for RunOptions.
type Options struct {
	// NoInferiors is for backends where a mailbox that holds mail cannot
	// have children and a name with children cannot hold mail (mbox:
	// mailboxes are files, parents directories). Creating such a name
	// must fail with storage.ErrInvalidName; INBOX, kept elsewhere, may
	// still have children.
	NoInferiors bool
}

// RunOptions is Run for a backend with the limits in o.
func RunOptions(t *testing.T, o Options, open func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"Inbox", testInbox},
		{"CreateDelete", func(t *testing.T, s storage.Store) { testCreateDelete(t, s, o) }},
		{"InvalidNames", testInvalidNames},
		{"Rename", func(t *testing.T, s storage.Store) { testRename(t, s, o) }},
		{"RenameInbox", testRenameInbox},
		{"Subscriptions", testSubscriptions},
		{"SpecialUse", testSpecialUse},
		{"AppendRead", testAppendRead},
		{"Flags", testFlags},
		{"ModSeq", testModSeq},
		{"UnchangedSince", testUnchangedSince},
		{"Expunge", testExpunge},
		{"CopyMove", testCopyMove},
		{"Recent", testRecent},
		{"Poll", testPoll},
		{"ChangesSince", testChangesSince},
		{"Status", testStatus},
		{"ReadOnly", testReadOnly},
		{"Watch", testWatch},
		{"Changes", func(t *testing.T, s storage.Store) { testChanges(t, s, o) }},
		{"Closed", testClosed},
		{"Concurrency", testConcurrency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

const msg1 = "From: a@example.com\r\nTo: b@example.com\r\nSubject: one\r\n\r\nHello.\r\n"

func names(t *testing.T, s storage.Store) map[string]storage.MailboxInfo {
	t.Helper()
	list, err := s.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	m := make(map[string]storage.MailboxInfo)
	for i, info := range list {
		if i > 0 && list[i-1].Name >= info.Name {
			t.Errorf("List not in name order: %q before %q", list[i-1].Name, info.Name)
		}
		m[info.Name] = info
	}
	return m
}

func selectable(info storage.MailboxInfo) bool {
	return !slices.Contains(info.Attrs, storage.AttrNoselect) && !slices.Contains(info.Attrs, storage.AttrNonExistent)
}

func mustCreate(t *testing.T, s storage.Store, name string) {
	t.Helper()
	if err := s.Create(name, nil); err != nil {
		t.Fatalf("Create(%q) = %v", name, err)
	}
}

func mustAppend(t *testing.T, s storage.Store, box, body string, flags ...string) uint32 {
	t.Helper()
	_, uid, err := s.Append(box, strings.NewReader(body), storage.AppendOptions{Flags: flags})
	if err != nil {
		t.Fatalf("Append(%q) = %v", box, err)
	}
	return uid
}

func mustOpen(t *testing.T, s storage.Store, name string, ro bool) storage.Mailbox {
	t.Helper()
	mb, err := s.Open(name, ro)
	if err != nil {
		t.Fatalf("Open(%q) = %v", name, err)
	}
	t.Cleanup(func() { mb.Close() })
	return mb
}

func mustStatus(t *testing.T, s storage.Store, name string) storage.Status {
	t.Helper()
	st, err := s.Status(name)
	if err != nil {
		t.Fatalf("Status(%q) = %v", name, err)
	}
	return st
}

func readAll(t *testing.T, mb storage.Mailbox, uid uint32) string {
	t.Helper()
	rc, err := mb.Read(uid)
	if err != nil {
		t.Fatalf("Read(%d) = %v", uid, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Read(%d): %v", uid, err)
	}
	return string(b)
}

func uidsOf(msgs []storage.Message) []uint32 {
	var out []uint32
	for _, m := range msgs {
		out = append(out, m.UID)
	}
	return out
}

func find(msgs []storage.Message, uid uint32) (storage.Message, bool) {
	for _, m := range msgs {
		if m.UID == uid {
			return m, true
		}
	}
	return storage.Message{}, false
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if strings.EqualFold(x, f) {
			return true
		}
	}
	return false
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", what, err, want)
	}
}

func testInbox(t *testing.T, s storage.Store) {
	l := names(t, s)
	if info, ok := l["INBOX"]; !ok || !selectable(info) {
		t.Fatalf("List() has no selectable INBOX: %v", l)
	}
	for _, n := range []string{"inbox", "Inbox", "INBOX"} {
		if _, err := s.Status(n); err != nil {
			t.Errorf("Status(%q) = %v", n, err)
		}
	}
	wantErr(t, `Delete("inbox")`, s.Delete("inbox"), storage.ErrInbox)
	wantErr(t, `Create("INBOX")`, s.Create("INBOX", nil), storage.ErrMailboxExists)
	wantErr(t, `Create("InBox")`, s.Create("InBox", nil), storage.ErrMailboxExists)
	uid := mustAppend(t, s, "inbox", msg1)
	mb := mustOpen(t, s, "iNbOx", false)
	if mb.Name() != "INBOX" {
		t.Errorf("Name() = %q, want INBOX", mb.Name())
	}
	if got := uidsOf(mb.Messages()); !slices.Equal(got, []uint32{uid}) {
		t.Errorf("Messages() UIDs = %v, want [%d]", got, uid)
	}
	d := string(s.Delimiter())
	mustCreate(t, s, "inbox"+d+"child")
	if _, ok := names(t, s)["INBOX"+d+"child"]; !ok {
		t.Errorf("List() lacks INBOX%schild", d)
	}
}

func testCreateDelete(t *testing.T, s storage.Store, o Options) {
	d := string(s.Delimiter())
	mustCreate(t, s, "Sent")
	wantErr(t, `Create("Sent")`, s.Create("Sent", nil), storage.ErrMailboxExists)
	mustCreate(t, s, "A"+d+"B"+d+"C")
	mustCreate(t, s, "Trailing"+d) // RFC 9051 6.3.4: trailing delimiter
	l := names(t, s)
	for _, n := range []string{"Sent", "A" + d + "B" + d + "C", "Trailing"} {
		if info, ok := l[n]; !ok || !selectable(info) {
			t.Errorf("List() lacks selectable %q: %v", n, l)
		}
	}
	if info, ok := l["A"]; !ok || !slices.Contains(info.Attrs, storage.AttrHasChildren) {
		t.Errorf("List()[A] = %v, want present with \\HasChildren", info)
	}
	if info := l["Sent"]; !slices.Contains(info.Attrs, storage.AttrHasNoChildren) {
		t.Errorf("List()[Sent].Attrs = %v, want \\HasNoChildren", info.Attrs)
	}
	mustAppend(t, s, "Sent", msg1)
	if err := s.Delete("Sent"); err != nil {
		t.Fatalf("Delete(Sent) = %v", err)
	}
	wantErr(t, `Delete("Sent")`, s.Delete("Sent"), storage.ErrNoSuchMailbox)
	wantErr(t, `Status("Sent")`, func() error { _, err := s.Status("Sent"); return err }(), storage.ErrNoSuchMailbox)
	// Re-created: empty, and a new UIDVALIDITY is not required to be
	// larger, but old UIDs must not reappear.
	mustCreate(t, s, "Sent")
	if st := mustStatus(t, s, "Sent"); st.Messages != 0 {
		t.Errorf("re-created Sent has %d messages", st.Messages)
	}
	if o.NoInferiors {
		wantErr(t, "Create of a name with children", s.Create("A"+d+"B", nil), storage.ErrInvalidName)
		wantErr(t, "Create under a mailbox", s.Create("Sent"+d+"Kid", nil), storage.ErrInvalidName)
		return
	}
	// Deleting a parent keeps its children.
	mustCreate(t, s, "A"+d+"B")
	if err := s.Delete("A" + d + "B"); err != nil {
		t.Fatalf("Delete(A/B) = %v", err)
	}
	if _, err := s.Status("A" + d + "B" + d + "C"); err != nil {
		t.Errorf("child after parent delete: Status = %v", err)
	}
	wantErr(t, `Delete("Missing")`, s.Delete("Missing"), storage.ErrNoSuchMailbox)
	wantErr(t, `Open("Missing")`, func() error { _, err := s.Open("Missing", false); return err }(), storage.ErrNoSuchMailbox)
	wantErr(t, `Append("Missing")`, func() error {
		_, _, err := s.Append("Missing", strings.NewReader(msg1), storage.AppendOptions{})
		return err
	}(), storage.ErrNoSuchMailbox)
}

func testInvalidNames(t *testing.T, s storage.Store) {
	d := string(s.Delimiter())
	for _, n := range []string{"", d + "x", "a" + d + d + "b", "a\x00b", "a\rb", "a*", "a%b"} {
		if err := s.Create(n, nil); !errors.Is(err, storage.ErrInvalidName) {
			t.Errorf("Create(%q) = %v, want ErrInvalidName", n, err)
		}
	}
}

func testRename(t *testing.T, s storage.Store, o Options) {
	d := string(s.Delimiter())
	kid := "Old" + d + "Kid"
	if o.NoInferiors {
		// Children move with their parent; here the parent is only a
		// directory.
		kid = "Dir" + d + "Kid"
	}
	mustCreate(t, s, "Old")
	mustCreate(t, s, kid)
	mustCreate(t, s, "Other")
	uid := mustAppend(t, s, "Old", msg1, storage.FlagSeen)
	mustAppend(t, s, kid, msg1)
	before := mustStatus(t, s, "Old")
	if err := s.Rename("Old", "New"); err != nil {
		t.Fatalf("Rename = %v", err)
	}
	l := names(t, s)
	if _, ok := l["Old"]; ok {
		t.Errorf("Old still listed")
	}
	if !o.NoInferiors {
		if _, ok := l["Old"+d+"Kid"]; ok {
			t.Errorf("Old/Kid still listed")
		}
		if _, ok := l["New"+d+"Kid"]; !ok {
			t.Errorf("New/Kid not listed: %v", l)
		}
	}
	after := mustStatus(t, s, "New")
	if after.Messages != 1 || after.UIDValidity != before.UIDValidity || after.UIDNext != before.UIDNext {
		t.Errorf("Status after rename = %+v, before %+v", after, before)
	}
	mb := mustOpen(t, s, "New", false)
	if got := readAll(t, mb, uid); got != msg1 {
		t.Errorf("Read after rename = %q", got)
	}
	if o.NoInferiors {
		wantErr(t, "Create under a mailbox", s.Create("New"+d+"Kid", nil), storage.ErrInvalidName)
	} else if st := mustStatus(t, s, "New"+d+"Kid"); st.Messages != 1 {
		t.Errorf("New/Kid messages = %d, want 1", st.Messages)
	}
	wantErr(t, "Rename to existing", s.Rename("New", "Other"), storage.ErrMailboxExists)
	wantErr(t, "Rename missing", s.Rename("Missing", "X"), storage.ErrNoSuchMailbox)
	wantErr(t, "Rename to INBOX", s.Rename("New", "INBOX"), storage.ErrMailboxExists)
	if err := s.Rename("New", "New"+d+"Sub"); err == nil {
		t.Errorf("Rename into own child succeeded")
	}
	// Rename to a deeper name whose parents do not exist.
	if err := s.Rename("Other", "X"+d+"Y"); err != nil {
		t.Errorf("Rename(Other, X/Y) = %v", err)
	}
}

func testRenameInbox(t *testing.T, s storage.Store) {
	d := string(s.Delimiter())
	mustCreate(t, s, "INBOX"+d+"Kid")
	u1 := mustAppend(t, s, "INBOX", msg1, storage.FlagFlagged)
	mustAppend(t, s, "INBOX", msg1)
	before := mustStatus(t, s, "INBOX")
	if err := s.Rename("INBOX", "Saved"); err != nil {
		t.Fatalf("Rename(INBOX, Saved) = %v", err)
	}
	// RFC 9051 6.3.6: all messages move to the new name, INBOX stays
	// and is empty, inferior names of INBOX are not renamed.
	in := mustStatus(t, s, "INBOX")
	if in.Messages != 0 {
		t.Errorf("INBOX after rename has %d messages", in.Messages)
	}
	if in.UIDNext < before.UIDNext && in.UIDValidity == before.UIDValidity {
		t.Errorf("INBOX would reuse UIDs: before %+v, after %+v", before, in)
	}
	sv := mustStatus(t, s, "Saved")
	if sv.Messages != 2 {
		t.Errorf("Saved has %d messages, want 2", sv.Messages)
	}
	if _, err := s.Status("INBOX" + d + "Kid"); err != nil {
		t.Errorf("INBOX/Kid after INBOX rename: %v", err)
	}
	mb := mustOpen(t, s, "Saved", true)
	var flagged int
	for _, m := range mb.Messages() {
		if hasFlag(m.Flags, storage.FlagFlagged) {
			flagged++
		}
		if readAll(t, mb, m.UID) != msg1 {
			t.Errorf("Saved UID %d content differs", m.UID)
		}
	}
	if flagged != 1 {
		t.Errorf("flagged messages in Saved = %d, want 1 (of UID %d)", flagged, u1)
	}
	u := mustAppend(t, s, "INBOX", msg1)
	if in.UIDValidity == before.UIDValidity && u < before.UIDNext {
		t.Errorf("new INBOX UID %d reuses an old UID (UIDNEXT was %d)", u, before.UIDNext)
	}
}

func testSubscriptions(t *testing.T, s storage.Store) {
	mustCreate(t, s, "Sub")
	if err := s.SetSubscribed("Sub", true); err != nil {
		t.Fatalf("SetSubscribed = %v", err)
	}
	if err := s.SetSubscribed("Ghost", true); err != nil {
		t.Fatalf("SetSubscribed(nonexistent) = %v", err)
	}
	if err := s.SetSubscribed("inbox", true); err != nil {
		t.Fatalf("SetSubscribed(inbox) = %v", err)
	}
	l := names(t, s)
	if !l["Sub"].Subscribed || !l["INBOX"].Subscribed {
		t.Errorf("List subscribed: Sub %v INBOX %v", l["Sub"].Subscribed, l["INBOX"].Subscribed)
	}
	g, ok := l["Ghost"]
	if !ok || !g.Subscribed || !slices.Contains(g.Attrs, storage.AttrNonExistent) {
		t.Errorf("List()[Ghost] = %+v, want subscribed \\NonExistent", g)
	}
	if err := s.SetSubscribed("Sub", false); err != nil {
		t.Fatalf("SetSubscribed(false) = %v", err)
	}
	if err := s.SetSubscribed("Ghost", false); err != nil {
		t.Fatalf("SetSubscribed(false) = %v", err)
	}
	l = names(t, s)
	if l["Sub"].Subscribed {
		t.Errorf("Sub still subscribed")
	}
	if _, ok := l["Ghost"]; ok {
		t.Errorf("Ghost still listed")
	}
}

func testSpecialUse(t *testing.T, s storage.Store) {
	if err := s.Create("Trash", []string{storage.AttrTrash}); err != nil {
		t.Fatalf("Create(Trash, \\Trash) = %v", err)
	}
	if a := names(t, s)["Trash"].Attrs; !slices.Contains(a, storage.AttrTrash) {
		t.Errorf("Trash attrs = %v, want \\Trash", a)
	}
	wantErr(t, "Create with bad use", s.Create("Bad", []string{`\Bogus`}), storage.ErrUseAttr)
}

func testAppendRead(t *testing.T, s storage.Store) {
	bodies := []struct{ in, want string }{
		{msg1, msg1},
		{"Subject: lf\n\nline one\nline two\n", "Subject: lf\r\n\r\nline one\r\nline two\r\n"},
		{"Subject: mixed\r\n\nbare\rcr\n", "Subject: mixed\r\n\r\nbare\rcr\r\n"},
		{"Subject: no final newline\r\n\r\nend", "Subject: no final newline\r\n\r\nend"},
	}
	date := time.Date(2020, 5, 17, 10, 11, 12, 0, time.FixedZone("", 2*3600))
	var uids []uint32
	var last uint32
	for _, b := range bodies {
		uv, uid, err := s.Append("INBOX", strings.NewReader(b.in), storage.AppendOptions{Date: date})
		if err != nil {
			t.Fatalf("Append = %v", err)
		}
		if uv == 0 || uid <= last {
			t.Errorf("Append = (%d, %d), want nonzero UIDVALIDITY and UID above %d", uv, uid, last)
		}
		last = uid
		uids = append(uids, uid)
	}
	mb := mustOpen(t, s, "INBOX", false)
	msgs := mb.Messages()
	if got := uidsOf(msgs); !slices.Equal(got, uids) {
		t.Fatalf("Messages UIDs = %v, want %v", got, uids)
	}
	var total int64
	for i, b := range bodies {
		got := readAll(t, mb, uids[i])
		if got != b.want {
			t.Errorf("Read(%d) = %q, want %q", uids[i], got, b.want)
		}
		if msgs[i].Size != int64(len(b.want)) {
			t.Errorf("Size(%d) = %d, want %d", uids[i], msgs[i].Size, len(b.want))
		}
		if !msgs[i].InternalDate.Equal(date) {
			t.Errorf("InternalDate(%d) = %v, want %v", uids[i], msgs[i].InternalDate, date)
		}
		if msgs[i].SaveDate.IsZero() {
			t.Errorf("SaveDate(%d) is zero", uids[i])
		}
		total += int64(len(b.want))
	}
	if st, _ := mb.Status(); st.Size != total {
		t.Errorf("Status.Size = %d, want %d", st.Size, total)
	}
	_, err := mb.Read(9999)
	wantErr(t, "Read(9999)", err, storage.ErrNoSuchMessage)
	// Zero date means now.
	uid := mustAppend(t, s, "INBOX", msg1)
	mb.Poll()
	m, _ := find(mb.Messages(), uid)
	if d := time.Since(m.InternalDate); d < -time.Minute || d > time.Minute {
		t.Errorf("InternalDate for zero date = %v, want about now", m.InternalDate)
	}
}

func testFlags(t *testing.T, s storage.Store) {
	uid := mustAppend(t, s, "INBOX", msg1, `\seen`, "$Label1", `\Recent`)
	mb := mustOpen(t, s, "INBOX", false)
	m, _ := find(mb.Messages(), uid)
	if !hasFlag(m.Flags, storage.FlagSeen) || !hasFlag(m.Flags, "$Label1") || hasFlag(m.Flags, storage.FlagRecent) {
		t.Errorf("appended flags = %v, want \\Seen $Label1 without \\Recent", m.Flags)
	}
	if !slices.Contains(m.Flags, storage.FlagSeen) {
		t.Errorf("flags = %v, want canonical \\Seen", m.Flags)
	}
	if !slices.Contains(mb.Flags(), "$Label1") || !slices.Contains(mb.PermanentFlags(), `\*`) {
		t.Errorf("Flags() = %v PermanentFlags() = %v", mb.Flags(), mb.PermanentFlags())
	}
	steps := []struct {
		op    storage.FlagOp
		flags []string
		want  []string
	}{
		{storage.FlagsAdd, []string{storage.FlagFlagged, "Work"}, []string{storage.FlagSeen, storage.FlagFlagged, "$Label1", "Work"}},
		{storage.FlagsRemove, []string{storage.FlagSeen, "$label1"}, []string{storage.FlagFlagged, "Work"}},
		{storage.FlagsReplace, []string{storage.FlagDraft, storage.FlagAnswered}, []string{storage.FlagDraft, storage.FlagAnswered}},
		{storage.FlagsAdd, []string{"work"}, []string{storage.FlagDraft, storage.FlagAnswered, "Work"}},
	}
	for _, st := range steps {
		res, err := mb.Store([]uint32{uid}, st.op, st.flags, 0)
		if err != nil {
			t.Fatalf("Store(%v %v) = %v", st.op, st.flags, err)
		}
		m, _ := find(mb.Messages(), uid)
		if !sameFlags(m.Flags, st.want) {
			t.Errorf("after Store(%v %v) flags = %v, want %v", st.op, st.flags, m.Flags, st.want)
		}
		if len(res.Changed) != 1 || !sameFlags(res.Changed[0].Flags, st.want) {
			t.Errorf("Store(%v %v).Changed = %+v", st.op, st.flags, res.Changed)
		}
	}
	// No change: nothing reported.
	res, err := mb.Store([]uint32{uid}, storage.FlagsAdd, []string{storage.FlagDraft}, 0)
	if err != nil || len(res.Changed) != 0 {
		t.Errorf("no-op Store = %+v, %v; want nothing changed", res, err)
	}
	// Unknown UIDs are skipped.
	if res, err := mb.Store([]uint32{9999}, storage.FlagsAdd, []string{storage.FlagSeen}, 0); err != nil || len(res.Changed) != 0 {
		t.Errorf("Store(9999) = %+v, %v", res, err)
	}
	// Flags survive a re-open.
	mb2 := mustOpen(t, s, "INBOX", true)
	m2, _ := find(mb2.Messages(), uid)
	if !sameFlags(m2.Flags, steps[len(steps)-1].want) {
		t.Errorf("reopened flags = %v", m2.Flags)
	}
}

func sameFlags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, f := range b {
		if !slices.Contains(a, f) {
			return false
		}
	}
	return true
}

func testModSeq(t *testing.T, s storage.Store) {
	st0 := mustStatus(t, s, "INBOX")
	if st0.HighestModSeq < 1 {
		t.Errorf("empty HIGHESTMODSEQ = %d, want >= 1", st0.HighestModSeq)
	}
	u1 := mustAppend(t, s, "INBOX", msg1)
	st1 := mustStatus(t, s, "INBOX")
	if st1.HighestModSeq <= st0.HighestModSeq {
		t.Errorf("HIGHESTMODSEQ after append %d, before %d", st1.HighestModSeq, st0.HighestModSeq)
	}
	u2 := mustAppend(t, s, "INBOX", msg1)
	mb := mustOpen(t, s, "INBOX", false)
	m1, _ := find(mb.Messages(), u1)
	m2, _ := find(mb.Messages(), u2)
	if m1.ModSeq == 0 || m2.ModSeq <= m1.ModSeq {
		t.Errorf("MODSEQs %d, %d; want increasing", m1.ModSeq, m2.ModSeq)
	}
	res, err := mb.Store([]uint32{u1}, storage.FlagsAdd, []string{storage.FlagSeen}, 0)
	if err != nil || len(res.Changed) != 1 {
		t.Fatalf("Store = %+v, %v", res, err)
	}
	if res.Changed[0].ModSeq <= m2.ModSeq {
		t.Errorf("MODSEQ after store %d, want above %d", res.Changed[0].ModSeq, m2.ModSeq)
	}
	st2, _ := mb.Status()
	if st2.HighestModSeq != res.Changed[0].ModSeq {
		t.Errorf("HIGHESTMODSEQ %d, want %d", st2.HighestModSeq, res.Changed[0].ModSeq)
	}
	mb.Store([]uint32{u2}, storage.FlagsAdd, []string{storage.FlagDeleted}, 0)
	before, _ := mb.Status()
	mb.Expunge(nil)
	after, _ := mb.Status()
	if after.HighestModSeq <= before.HighestModSeq {
		t.Errorf("HIGHESTMODSEQ after expunge %d, before %d", after.HighestModSeq, before.HighestModSeq)
	}
}

func testUnchangedSince(t *testing.T, s storage.Store) {
	u1 := mustAppend(t, s, "INBOX", msg1)
	u2 := mustAppend(t, s, "INBOX", msg1)
	mb := mustOpen(t, s, "INBOX", false)
	m1, _ := find(mb.Messages(), u1)
	res, err := mb.Store([]uint32{u2}, storage.FlagsAdd, []string{"$X"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 7162 3.1.3: u2 now has a MODSEQ above m1's, so it fails.
	res, err = mb.Store([]uint32{u1, u2}, storage.FlagsAdd, []string{storage.FlagSeen}, m1.ModSeq)
	if err != nil {
		t.Fatalf("Store UNCHANGEDSINCE = %v", err)
	}
	if !slices.Equal(res.Failed, []uint32{u2}) {
		t.Errorf("Failed = %v, want [%d]", res.Failed, u2)
	}
	if len(res.Changed) != 1 || res.Changed[0].UID != u1 {
		t.Errorf("Changed = %+v, want only %d", res.Changed, u1)
	}
	m2, _ := find(mb.Messages(), u2)
	if hasFlag(m2.Flags, storage.FlagSeen) {
		t.Errorf("failed message got \\Seen")
	}
}

func testExpunge(t *testing.T, s storage.Store) {
	u1 := mustAppend(t, s, "INBOX", msg1, storage.FlagDeleted)
	u2 := mustAppend(t, s, "INBOX", msg1)
	u3 := mustAppend(t, s, "INBOX", msg1, storage.FlagDeleted)
	u4 := mustAppend(t, s, "INBOX", msg1, storage.FlagDeleted)
	mb := mustOpen(t, s, "INBOX", false)
	// UID EXPUNGE: only the listed \Deleted messages.
	got, err := mb.Expunge([]uint32{u2, u3})
	if err != nil || !slices.Equal(got, []uint32{u3}) {
		t.Errorf("Expunge([%d %d]) = %v, %v; want [%d]", u2, u3, got, err, u3)
	}
	got, err = mb.Expunge(nil)
	if err != nil || !slices.Equal(got, []uint32{u1, u4}) {
		t.Errorf("Expunge(nil) = %v, %v; want [%d %d]", got, err, u1, u4)
	}
	if m := uidsOf(mb.Messages()); !slices.Equal(m, []uint32{u2}) {
		t.Errorf("Messages after expunge = %v, want [%d]", m, u2)
	}
	if st := mustStatus(t, s, "INBOX"); st.Messages != 1 {
		t.Errorf("Status.Messages = %d, want 1", st.Messages)
	}
	// UIDs are never reused.
	if u5 := mustAppend(t, s, "INBOX", msg1); u5 <= u4 {
		t.Errorf("UID after expunge %d, want above %d", u5, u4)
	}
	if got, _ := mb.Expunge(nil); len(got) != 0 {
		t.Errorf("Expunge with nothing \\Deleted = %v", got)
	}
}

func testCopyMove(t *testing.T, s storage.Store) {
	mustCreate(t, s, "Dst")
	date := time.Date(2019, 1, 2, 3, 4, 5, 0, time.UTC)
	_, u1, _ := s.Append("INBOX", strings.NewReader(msg1), storage.AppendOptions{Flags: []string{storage.FlagSeen, "kw"}, Date: date})
	u2 := mustAppend(t, s, "INBOX", "Subject: two\r\n\r\n2\r\n")
	u3 := mustAppend(t, s, "INBOX", "Subject: three\r\n\r\n3\r\n")
	dst0 := mustStatus(t, s, "Dst")
	mb := mustOpen(t, s, "INBOX", false)
	res, err := mb.Copy([]uint32{u2, u1, 9999}, "Dst")
	if err != nil {
		t.Fatalf("Copy = %v", err)
	}
	if res.UIDValidity != dst0.UIDValidity || !slices.Equal(res.SrcUIDs, []uint32{u1, u2}) || len(res.DstUIDs) != 2 {
		t.Fatalf("Copy = %+v, want UIDVALIDITY %d src [%d %d]", res, dst0.UIDValidity, u1, u2)
	}
	if res.DstUIDs[0] < dst0.UIDNext || res.DstUIDs[1] <= res.DstUIDs[0] {
		t.Errorf("DstUIDs = %v, UIDNEXT was %d", res.DstUIDs, dst0.UIDNext)
	}
	d := mustOpen(t, s, "Dst", false)
	dm, ok := find(d.Messages(), res.DstUIDs[0])
	if !ok || !hasFlag(dm.Flags, storage.FlagSeen) || !hasFlag(dm.Flags, "kw") || !dm.InternalDate.Equal(date) {
		t.Errorf("copied message = %+v, want \\Seen kw and date %v", dm, date)
	}
	if got := readAll(t, d, res.DstUIDs[1]); got != "Subject: two\r\n\r\n2\r\n" {
		t.Errorf("copied body = %q", got)
	}
	if len(mb.Messages()) != 3 {
		t.Errorf("source lost messages on copy")
	}
	_, err = mb.Copy([]uint32{u1}, "Missing")
	wantErr(t, "Copy to missing", err, storage.ErrNoSuchMailbox)

	res, err = mb.Move([]uint32{u3}, "Dst")
	if err != nil || !slices.Equal(res.SrcUIDs, []uint32{u3}) || len(res.DstUIDs) != 1 {
		t.Fatalf("Move = %+v, %v", res, err)
	}
	if got := uidsOf(mb.Messages()); !slices.Equal(got, []uint32{u1, u2}) {
		t.Errorf("source after move = %v, want [%d %d]", got, u1, u2)
	}
	ch, err := d.Poll()
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Updated) != 1 || ch.Updated[0].UID != res.DstUIDs[0] {
		t.Errorf("Dst Poll after move = %+v", ch)
	}
	if got := readAll(t, d, res.DstUIDs[0]); got != "Subject: three\r\n\r\n3\r\n" {
		t.Errorf("moved body = %q", got)
	}
	if st := mustStatus(t, s, "INBOX"); st.Messages != 2 {
		t.Errorf("INBOX messages after move = %d", st.Messages)
	}
	// Copy into the same mailbox.
	res, err = mb.Copy([]uint32{u1}, "INBOX")
	if err != nil || len(res.DstUIDs) != 1 || res.DstUIDs[0] <= u3 {
		t.Errorf("Copy to self = %+v, %v", res, err)
	}
}

func testRecent(t *testing.T, s storage.Store) {
	u1 := mustAppend(t, s, "INBOX", msg1)
	if st := mustStatus(t, s, "INBOX"); st.Recent != 1 {
		t.Errorf("Status.Recent = %d, want 1", st.Recent)
	}
	ro := mustOpen(t, s, "INBOX", true)
	if m, _ := find(ro.Messages(), u1); !m.Recent {
		t.Errorf("EXAMINE does not see \\Recent")
	}
	a := mustOpen(t, s, "INBOX", false)
	b := mustOpen(t, s, "INBOX", false)
	if m, _ := find(a.Messages(), u1); !m.Recent {
		t.Errorf("first session does not see \\Recent")
	}
	if m, _ := find(b.Messages(), u1); m.Recent {
		t.Errorf("second session sees \\Recent")
	}
	if st := mustStatus(t, s, "INBOX"); st.Recent != 0 {
		t.Errorf("Status.Recent after SELECT = %d, want 0", st.Recent)
	}
	u2 := mustAppend(t, s, "INBOX", msg1)
	chB, _ := b.Poll()
	chA, _ := a.Poll()
	if m, ok := find(chB.Updated, u2); !ok || !m.Recent {
		t.Errorf("session polling first: %+v, want %d recent", chB.Updated, u2)
	}
	if m, ok := find(chA.Updated, u2); !ok || m.Recent {
		t.Errorf("session polling second: %+v, want %d not recent", chA.Updated, u2)
	}
	if m, _ := find(a.Messages(), u1); !m.Recent {
		t.Errorf("\\Recent lost on Poll")
	}
}

func testPoll(t *testing.T, s storage.Store) {
	u1 := mustAppend(t, s, "INBOX", msg1)
	u2 := mustAppend(t, s, "INBOX", msg1)
	a := mustOpen(t, s, "INBOX", false)
	b := mustOpen(t, s, "INBOX", false)
	if ch, err := a.Poll(); err != nil || len(ch.Updated)+len(ch.Expunged) != 0 {
		t.Errorf("idle Poll = %+v, %v", ch, err)
	}
	res, _ := b.Store([]uint32{u1}, storage.FlagsAdd, []string{storage.FlagDeleted}, 0)
	if len(b.Messages()) != 2 {
		t.Fatalf("b snapshot changed size")
	}
	// a sees nothing until it polls.
	if m, _ := find(a.Messages(), u1); hasFlag(m.Flags, storage.FlagDeleted) {
		t.Errorf("a's snapshot changed without Poll")
	}
	ch, err := a.Poll()
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Updated) != 1 || ch.Updated[0].UID != u1 || !hasFlag(ch.Updated[0].Flags, storage.FlagDeleted) ||
		ch.Updated[0].ModSeq != res.Changed[0].ModSeq {
		t.Errorf("a.Poll after flag change = %+v", ch)
	}
	// b's own change is not reported again to b.
	if ch, _ := b.Poll(); len(ch.Updated) != 0 {
		t.Errorf("b.Poll reports own change: %+v", ch)
	}
	b.Expunge(nil)
	u3 := mustAppend(t, s, "INBOX", msg1)
	if got := uidsOf(a.Messages()); !slices.Equal(got, []uint32{u1, u2}) {
		t.Errorf("a snapshot before Poll = %v", got)
	}
	// A message expunged by another session stays readable or fails
	// cleanly until Poll.
	if rc, err := a.Read(u1); err == nil {
		rc.Close()
	} else if !errors.Is(err, storage.ErrNoSuchMessage) {
		t.Errorf("Read of expunged = %v", err)
	}
	ch, _ = a.Poll()
	if !slices.Equal(ch.Expunged, []uint32{u1}) || len(ch.Updated) != 1 || ch.Updated[0].UID != u3 || ch.UIDNext != u3+1 {
		t.Errorf("a.Poll = %+v, want expunged [%d], new %d", ch, u1, u3)
	}
	if got := uidsOf(a.Messages()); !slices.Equal(got, []uint32{u2, u3}) {
		t.Errorf("a snapshot after Poll = %v", got)
	}
	st, _ := a.Status()
	if ch.HighestModSeq != st.HighestModSeq {
		t.Errorf("Poll HighestModSeq %d, Status %d", ch.HighestModSeq, st.HighestModSeq)
	}
	// Store on a message another session expunged is skipped.
	bb := mustOpen(t, s, "INBOX", false)
	bb.Store([]uint32{u3}, storage.FlagsAdd, []string{storage.FlagDeleted}, 0)
	bb.Expunge(nil)
	if res, err := a.Store([]uint32{u3}, storage.FlagsAdd, []string{storage.FlagSeen}, 0); err != nil || len(res.Changed) != 0 {
		t.Errorf("Store on expunged = %+v, %v", res, err)
	}
}

func testChangesSince(t *testing.T, s storage.Store) {
	u1 := mustAppend(t, s, "INBOX", msg1)
	u2 := mustAppend(t, s, "INBOX", msg1)
	u3 := mustAppend(t, s, "INBOX", msg1, storage.FlagDeleted)
	mod := mustStatus(t, s, "INBOX").HighestModSeq
	w := mustOpen(t, s, "INBOX", false)
	w.Store([]uint32{u1}, storage.FlagsAdd, []string{storage.FlagSeen}, 0)
	w.Expunge(nil)
	mb := mustOpen(t, s, "INBOX", false)
	ch, ok, err := mb.ChangesSince(mod)
	if err != nil || !ok {
		t.Fatalf("ChangesSince = %v, %v", ok, err)
	}
	if !slices.Equal(ch.Expunged, []uint32{u3}) || len(ch.Updated) != 1 || ch.Updated[0].UID != u1 {
		t.Errorf("ChangesSince(%d) = %+v, want expunged [%d] updated [%d]", mod, ch, u3, u1)
	}
	ch, _, _ = mb.ChangesSince(0)
	if len(ch.Updated) != 2 || ch.Updated[1].UID != u2 {
		t.Errorf("ChangesSince(0) = %+v", ch)
	}
	st, _ := mb.Status()
	if ch, ok, _ := mb.ChangesSince(st.HighestModSeq); !ok || len(ch.Updated)+len(ch.Expunged) != 0 {
		t.Errorf("ChangesSince(highest) = %+v %v", ch, ok)
	}
}

func testStatus(t *testing.T, s storage.Store) {
	mustCreate(t, s, "Box")
	st := mustStatus(t, s, "Box")
	if st.Messages != 0 || st.UIDNext != 1 || st.UIDValidity == 0 || st.Size != 0 {
		t.Errorf("empty Status = %+v", st)
	}
	bodies := []string{msg1, "a\nb\n", "x"}
	mustAppend(t, s, "Box", bodies[0], storage.FlagSeen)
	mustAppend(t, s, "Box", bodies[1], storage.FlagDeleted)
	u3 := mustAppend(t, s, "Box", bodies[2], storage.FlagSeen, storage.FlagDeleted)
	st = mustStatus(t, s, "Box")
	want := storage.Status{
		Messages: 3, Recent: 3, Unseen: 1, Deleted: 2, UIDNext: u3 + 1, UIDValidity: st.UIDValidity,
		HighestModSeq: st.HighestModSeq, Size: int64(len(msg1) + len("a\r\nb\r\n") + 1),
	}
	if st != want {
		t.Errorf("Status = %+v, want %+v", st, want)
	}
	if other := mustStatus(t, s, "INBOX"); other.UIDValidity == 0 {
		t.Errorf("INBOX UIDVALIDITY 0")
	}
}

func testReadOnly(t *testing.T, s storage.Store) {
	u := mustAppend(t, s, "INBOX", msg1, storage.FlagDeleted)
	mustCreate(t, s, "Dst")
	ro := mustOpen(t, s, "INBOX", true)
	if !ro.ReadOnly() {
		t.Errorf("ReadOnly() = false")
	}
	_, err := ro.Store([]uint32{u}, storage.FlagsAdd, []string{storage.FlagSeen}, 0)
	wantErr(t, "Store on read-only", err, storage.ErrReadOnly)
	_, err = ro.Expunge(nil)
	wantErr(t, "Expunge on read-only", err, storage.ErrReadOnly)
	_, err = ro.Move([]uint32{u}, "Dst")
	wantErr(t, "Move on read-only", err, storage.ErrReadOnly)
	if res, err := ro.Copy([]uint32{u}, "Dst"); err != nil || len(res.DstUIDs) != 1 {
		t.Errorf("Copy from read-only = %+v, %v", res, err)
	}
	if got := readAll(t, ro, u); got != msg1 {
		t.Errorf("Read = %q", got)
	}
}

func testWatch(t *testing.T, s storage.Store) {
	c, stop := s.Watch()
	mustAppend(t, s, "INBOX", msg1)
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatalf("no Watch notification after Append")
	}
	stop()
	stop()
	for range c { // closed after stop; drain a pending hint
	}
}

func testClosed(t *testing.T, s storage.Store) {
	mb := mustOpen(t, s, "INBOX", false)
	if err := mb.Close(); err != nil {
		t.Fatalf("Mailbox.Close = %v", err)
	}
	_, err := mb.Poll()
	wantErr(t, "Poll after Close", err, storage.ErrClosed)
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	_, err = s.Status("INBOX")
	wantErr(t, "Status after Close", err, storage.ErrClosed)
	_, err = s.List()
	wantErr(t, "List after Close", err, storage.ErrClosed)
}
