package maildir

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cote/storage"
)

// ext4Shutdown is EXT4_IOC_SHUTDOWN; with ext4GoingNoLogFlush the file
// system stops at once, as at a power cut: nothing more reaches the
// device, not even the journal's transaction in progress.
const (
	ext4Shutdown        = 0x8004587d // _IOR('X', 125, __u32)
	ext4GoingNoLogFlush = 2
)

// journaledExt4 makes an ext4 file system with a journal in a file,
// mounts it on a loop device and returns its mount point and a function
// that mounts it again (the journal is replayed at the mount).
func journaledExt4(t *testing.T) (string, func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("the power-cut test mounts an ext4 file system and needs root (CI runs as root)")
	}
	for _, tool := range []string{"mkfs.ext4", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (%v): the power-cut test needs e2fsprogs and util-linux", tool, err)
		}
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "fs.img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("truncate", "-s", "128M", img)
	run("mkfs.ext4", "-q", "-F", "-O", "has_journal", img)
	run("mount", "-o", "loop", img, mnt)
	mounted := true
	t.Cleanup(func() {
		if mounted {
			exec.Command("umount", mnt).Run()
		}
	})
	remount := func() {
		t.Helper()
		run("umount", mnt)
		mounted = false
		run("mount", "-o", "loop", img, mnt)
		mounted = true
	}
	return mnt, remount
}

// jbd2Commits returns how many transactions the journal of the file
// system holding dir has committed.
func jbd2Commits(t *testing.T, dir string) int {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	link, err := os.Readlink(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)))
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.ReadFile(filepath.Join("/proc/fs/jbd2", filepath.Base(link)+"-8", "info"))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := fmt.Sscanf(string(info), "%d transactions", &n); err != nil {
		t.Fatalf("jbd2 info %q: %v", info, err)
	}
	return n
}

// TestSaveOneJournalCommit: on ext4 with a journal, a save (the file,
// its name in cur/, its dovecot-uidlist record) costs one journal commit,
// where the POSIX order costs two (journal.go).
func TestSaveOneJournalCommit(t *testing.T) {
	mnt, _ := journaledExt4(t)
	root := filepath.Join(mnt, "Maildir")
	s := openAt(t, root, Options{})
	defer s.Close()
	if !onJournal(root) {
		t.Fatalf("onJournal(%s) = false on a journaled ext4", root)
	}
	msg := crashMsg(250)
	if _, _, err := s.Append("INBOX", strings.NewReader(msg), storage.AppendOptions{}); err != nil {
		t.Fatal(err) // the mailbox and its uidlist are made
	}
	const n = 100
	before := jbd2Commits(t, mnt)
	for range n {
		if _, _, err := s.Append("INBOX", strings.NewReader(msg), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	per := float64(jbd2Commits(t, mnt)-before) / n
	t.Logf("%.2f journal commits a save", per)
	if per > 1.5 {
		t.Fatalf("a save costs %.2f journal commits, want 1", per)
	}

	// A save that rewrites dovecot-uidlist (a quarter of its records
	// expunged: imaptest's mailboxes of a message or two) is one commit
	// too.
	if err := s.Create("Small", nil); err != nil {
		t.Fatal(err)
	}
	ul := filepath.Join(root, ".Small", "dovecot-uidlist")
	rewrites, commits := 0, 0
	for range 20 {
		for range 2 {
			if _, _, err := s.Append("Small", strings.NewReader(msg), storage.AppendOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		mb, err := s.Open("Small", false)
		if err != nil {
			t.Fatal(err)
		}
		first := []uint32{mb.Messages()[0].UID}
		if _, err := mb.Store(first, storage.FlagsAdd, []string{storage.FlagDeleted}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := mb.Expunge(first); err != nil {
			t.Fatal(err)
		}
		mb.Close()
		st0, err := os.Stat(ul)
		if err != nil {
			t.Fatal(err)
		}
		before := jbd2Commits(t, mnt)
		if _, _, err := s.Append("Small", strings.NewReader(msg), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
		if st1, err := os.Stat(ul); err == nil && !os.SameFile(st0, st1) {
			rewrites++ // replaced, not appended to
			commits += jbd2Commits(t, mnt) - before
		}
		mb, err = s.Open("Small", false)
		if err != nil {
			t.Fatal(err)
		}
		var all []uint32
		for _, m := range mb.Messages() {
			all = append(all, m.UID)
		}
		if _, err := mb.Store(all, storage.FlagsAdd, []string{storage.FlagDeleted}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := mb.Expunge(all); err != nil {
			t.Fatal(err)
		}
		mb.Close()
	}
	t.Logf("%d of 20 saves after an expunge rewrote dovecot-uidlist, in %d journal commits", rewrites, commits)
	if rewrites < 3 {
		t.Fatalf("only %d of 20 saves after an expunge rewrote dovecot-uidlist", rewrites)
	}
	if commits > rewrites+1 {
		t.Fatalf("%d saves that rewrote dovecot-uidlist cost %d journal commits, want one each", rewrites, commits)
	}
}

// TestPowerCut saves into a Maildir on a real ext4 with a journal, in a
// child process as TestCrash does, and cuts the file system's power at
// random moments (EXT4_IOC_SHUTDOWN without flushing the journal): after
// the journal's replay every acknowledged message is there, whole, under
// its UID, and no half message is.
func TestPowerCut(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		return // this process is the child
	}
	mnt, remount := journaledExt4(t)
	root := filepath.Join(mnt, "Maildir")
	rounds := 6
	if testing.Short() {
		rounds = 3
	}
	acked := map[uint32]int{} // UID -> message number
	next := 0
	for round := range rounds {
		next = saveAndCut(t, round, root, next, acked, 20*time.Millisecond, 300*time.Millisecond, func(p *os.Process) {
			f, err := os.Open(mnt)
			if err != nil {
				t.Fatal(err)
			}
			err = unix.IoctlSetPointerInt(int(f.Fd()), ext4Shutdown, ext4GoingNoLogFlush)
			f.Close()
			if err != nil {
				t.Fatalf("EXT4_IOC_SHUTDOWN: %v", err)
			}
			p.Signal(syscall.SIGKILL)
		})
		remount()
		checkAfterCrash(t, root, acked)
	}
	t.Logf("%d messages acknowledged across %d power cuts", len(acked), rounds)
}
