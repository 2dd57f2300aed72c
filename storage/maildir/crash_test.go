package maildir

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cote/storage"
)

// The crash test re-executes the test binary as a child that appends in
// a loop and prints "ACK <uid> <n>" after each Append returns; the parent
// kills it with SIGKILL at random moments and checks the Maildir after
// each kill.
const crashEnv = "COTE_MAILDIR_CRASH_CHILD"

// crashMsg is message n of the crash test: its size varies so that kills
// land inside writes of every size, and its last line names it, so a
// half message is seen.
func crashMsg(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: crash@example.com\r\nSubject: crash %d\r\n\r\n", n)
	line := strings.Repeat("0123456789", 7) + "\r\n"
	for i := 0; i < (n*37)%700; i++ {
		b.WriteString(line)
	}
	fmt.Fprintf(&b, "END %d\r\n", n)
	return b.String()
}

func TestCrashChild(t *testing.T) {
	root := os.Getenv(crashEnv)
	if root == "" {
		return // only meaningful as the crash test's child (TestCrash re-runs the binary)
	}
	s, err := Open(Options{Location: "maildir:" + root, PollInterval: -1})
	if err != nil {
		fmt.Printf("OPENERR %v\n", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	start, _ := strconv.Atoi(os.Getenv(crashEnv + "_N"))
	for n := start; ; n++ {
		flags := []string{}
		if n%3 == 0 {
			flags = append(flags, storage.FlagSeen, "Crash"+strconv.Itoa(n%5))
		}
		_, uid, err := s.Append("INBOX", strings.NewReader(crashMsg(n)), storage.AppendOptions{Flags: flags})
		if err != nil {
			fmt.Fprintf(w, "ERR %v\n", err)
			w.Flush()
			os.Exit(3)
		}
		fmt.Fprintf(w, "ACK %d %d\n", uid, n)
		w.Flush()
		switch {
		case n%7 == 0:
			// Flag changes happen too.
			mb, err := s.Open("INBOX", false)
			if err == nil {
				mb.Store([]uint32{uid}, storage.FlagsAdd, []string{storage.FlagFlagged}, 0)
				mb.Close()
			}
		case n%2 == 1:
			// And expunges, of every other message, so that saves
			// rewrite dovecot-uidlist (a quarter of its records
			// stale). The parent stops asking for the message first.
			fmt.Fprintf(w, "EXPUNGING %d\n", uid)
			w.Flush()
			mb, err := s.Open("INBOX", false)
			if err == nil {
				mb.Store([]uint32{uid}, storage.FlagsAdd, []string{storage.FlagDeleted}, 0)
				mb.Expunge([]uint32{uid})
				mb.Close()
			}
		}
	}
}

func TestCrash(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		return // this process is the child
	}
	root := filepath.Join(t.TempDir(), "Maildir")
	rounds := 30
	if testing.Short() {
		rounds = 8
	}
	acked := map[uint32]int{} // UID -> message number
	next := 0
	deadline := time.Now().Add(50 * time.Second)
	for round := 0; round < rounds && time.Now().Before(deadline); round++ {
		next = saveAndCut(t, round, root, next, acked, 0, 150*time.Millisecond, func(p *os.Process) {
			p.Signal(syscall.SIGKILL)
		})
		checkAfterCrash(t, root, acked)
	}
	t.Logf("%d messages acknowledged across the kills", len(acked))
}

// saveAndCut runs the crash test's child, which saves into root from
// message next on, records each message it acknowledges in acked, and
// calls cut, which must end the child, at a random moment from after
// to after+spread past its first acknowledgement. It returns the next
// message number. An error of the child fails the test before the cut
// and is expected after it.
func saveAndCut(t *testing.T, round int, root string, next int, acked map[uint32]int, after, spread time.Duration, cut func(*os.Process)) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+root, crashEnv+"_N="+strconv.Itoa(next))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var at <-chan time.Time
	timeout := time.After(30 * time.Second)
	done := false
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				if !done {
					t.Fatalf("round %d: the child ended before the cut", round)
				}
				return next
			}
			var uid uint32
			var n int
			if _, err := fmt.Sscanf(l, "EXPUNGING %d", &uid); err == nil {
				delete(acked, uid) // gone or not, as the cut finds it
				continue
			}
			if _, err := fmt.Sscanf(l, "ACK %d %d", &uid, &n); err != nil {
				if !done && (strings.HasPrefix(l, "ERR") || strings.HasPrefix(l, "OPENERR")) {
					t.Fatalf("round %d: child: %s", round, l)
				}
				continue
			}
			if prev, dup := acked[uid]; dup {
				t.Fatalf("round %d: UID %d acknowledged twice (messages %d and %d)", round, uid, prev, n)
			}
			acked[uid] = n
			next = max(next, n+1)
			if at == nil && !done {
				at = time.After(after + time.Duration(rand.Int64N(int64(spread))))
			}
		case <-at:
			at, done = nil, true
			cut(cmd.Process)
		case <-timeout:
			cmd.Process.Kill()
			t.Fatalf("round %d: child made no progress", round)
		}
	}
}

// checkAfterCrash reopens the Maildir and checks every acknowledged
// message, the UID order, whole messages only, and the index against the
// files.
func checkAfterCrash(t *testing.T, root string, acked map[uint32]int) {
	t.Helper()
	s := openAt(t, root, Options{})
	defer s.Close()
	mb, err := s.Open("INBOX", true)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	msgs := mb.Messages()
	byUID := map[uint32]bool{}
	for i, m := range msgs {
		if i > 0 && m.UID <= msgs[i-1].UID {
			t.Fatalf("UIDs not increasing: %d after %d", m.UID, msgs[i-1].UID)
		}
		byUID[m.UID] = true
		body := readMsg(t, mb, m.UID)
		var n int
		if _, err := fmt.Sscanf(body[strings.Index(body, "Subject: crash ")+len("Subject: crash "):], "%d", &n); err != nil {
			t.Fatalf("UID %d: unreadable message %q", m.UID, body)
		}
		if body != crashMsg(n) || m.Size != int64(len(body)) {
			t.Fatalf("UID %d: half or wrong message (%d bytes, size %d, want message %d)", m.UID, len(body), m.Size, n)
		}
		if want, ok := acked[m.UID]; ok && want != n {
			t.Fatalf("UID %d holds message %d, was acknowledged as %d", m.UID, n, want)
		}
	}
	for uid, n := range acked {
		if !byUID[uid] {
			t.Fatalf("acknowledged message %d (UID %d) lost", n, uid)
		}
	}
	// The index agrees with the files and the state.
	row, rows, _, ok, err := s.s.idx.LoadBox("INBOX")
	if err != nil || !ok {
		t.Fatalf("index LoadBox = %v, %v", ok, err)
	}
	if len(rows) != len(msgs) {
		t.Fatalf("index has %d messages, Maildir %d", len(rows), len(msgs))
	}
	st, _ := s.Status("INBOX")
	if row.UIDNext != st.UIDNext || row.ModSeq != st.HighestModSeq {
		t.Fatalf("index row %+v, Status %+v", row, st)
	}
	for i, r := range rows {
		if r.UID != msgs[i].UID || r.ModSeq != msgs[i].ModSeq {
			t.Fatalf("index row %+v, message %+v", r, msgs[i])
		}
		if _, err := os.Stat(filepath.Join(root, "cur", r.File)); err != nil {
			t.Fatalf("index file of UID %d: %v", r.UID, err)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(root, "cur"))
	if len(ents) != len(msgs) {
		t.Fatalf("cur/ has %d files, mailbox %d messages", len(ents), len(msgs))
	}
	if q, _ := s.Quota(); q.MessagesUsed != int64(len(msgs)) {
		t.Fatalf("quota counts %d messages, mailbox has %d", q.MessagesUsed, len(msgs))
	}
}

// TestLostIndexTail: saves commit in the index's metadata tier, so a
// power loss may take the index's last commits, saves and copies
// included, while the Maildir keeps what was fsynced (the files, cur/,
// the dovecot-uidlist records). The index files are put back as they were
// before the last saves, still marked as being written; the next open
// must find every acknowledged message under its UID with its flags, in
// both mailboxes, and hand out MODSEQs above every one given before.
func TestLostIndexTail(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	s := openAt(t, root, Options{})
	if err := s.Create("Archive", nil); err != nil {
		t.Fatal(err)
	}
	acked := map[uint32]int{}
	flagsOf := map[uint32][]string{}
	save := func(n int) {
		var flags []string
		if n%3 == 0 {
			flags = []string{"Lost" + strconv.Itoa(n%4), storage.FlagSeen}
		}
		_, uid, err := s.Append("INBOX", strings.NewReader(crashMsg(n)), storage.AppendOptions{Flags: flags})
		if err != nil {
			t.Fatal(err)
		}
		acked[uid] = n
		flagsOf[uid] = flags
	}
	for n := range 5 {
		save(n)
	}
	// Stamps older than stampMargin are trusted: an index whose rows
	// record them is believed without a listing unless they change.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{"new", "cur", "dovecot-uidlist"} {
		if err := os.Chtimes(filepath.Join(root, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	s = openAt(t, root, Options{})
	if mb, err := s.Open("INBOX", false); err != nil {
		t.Fatal(err)
	} else {
		mb.Close()
	}
	if row, _, _, _, err := s.s.idx.LoadBox("INBOX"); err != nil || row.Stamps == "" {
		t.Fatalf("INBOX's index row has no stamps to trust (%v)", err)
	}
	// The index as a power loss could leave it: written up to here.
	idx := filepath.Join(root, IndexFile)
	snap := map[string][]byte{}
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(idx + suffix)
		if err != nil {
			t.Fatal(err)
		}
		snap[suffix] = data
	}
	for n := 5; n < 25; n++ {
		save(n)
	}
	mb, err := s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mb.Store([]uint32{2, 7}, storage.FlagsAdd, []string{storage.FlagFlagged}, 0); err != nil {
		t.Fatal(err)
	}
	flagsOf[2] = append(flagsOf[2], storage.FlagFlagged)
	flagsOf[7] = append(flagsOf[7], storage.FlagFlagged)
	cp, err := mb.Copy([]uint32{3, 12}, "Archive")
	if err != nil {
		t.Fatal(err)
	}
	before, err := mb.Status()
	if err != nil {
		t.Fatal(err)
	}
	mb.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for suffix, data := range snap {
		if err := os.WriteFile(idx+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(idx + "-shm")

	checkAfterCrash(t, root, acked)
	s = openAt(t, root, Options{})
	defer s.Close()
	mb, err = s.Open("INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	for _, m := range mb.Messages() {
		want := slices.Clone(flagsOf[m.UID])
		got := slices.Clone(m.Flags)
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("UID %d: flags %q after the loss, want %q", m.UID, got, want)
		}
	}
	after, err := mb.Status()
	if err != nil {
		t.Fatal(err)
	}
	if after.UIDNext != before.UIDNext || after.HighestModSeq <= before.HighestModSeq {
		t.Errorf("after the loss UIDNEXT %d HIGHESTMODSEQ %d, before UIDNEXT %d HIGHESTMODSEQ %d",
			after.UIDNext, after.HighestModSeq, before.UIDNext, before.HighestModSeq)
	}
	arch, err := s.Open("Archive", true)
	if err != nil {
		t.Fatal(err)
	}
	defer arch.Close()
	var got []uint32
	for _, m := range arch.Messages() {
		got = append(got, m.UID)
		if body, want := readMsg(t, arch, m.UID), crashMsg(acked[cp.SrcUIDs[len(got)-1]]); body != want {
			t.Errorf("Archive UID %d: %d bytes, want message %d", m.UID, len(body), acked[cp.SrcUIDs[len(got)-1]])
		}
	}
	if !slices.Equal(got, cp.DstUIDs) {
		t.Errorf("Archive UIDs %v after the loss, copied as %v", got, cp.DstUIDs)
	}
}
