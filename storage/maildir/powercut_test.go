package maildir

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
	_, name := blockDev(t, dir)
	info, err := os.ReadFile(filepath.Join("/proc/fs/jbd2", name+"-8", "info"))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := fmt.Sscanf(string(info), "%d transactions", &n); err != nil {
		t.Fatalf("jbd2 info %q: %v", info, err)
	}
	return n
}

// blockDev is the /sys/dev/block link of dir's block device, and the
// device's name.
func blockDev(t *testing.T, dir string) (string, string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	link := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	target, err := os.Readlink(link)
	if err != nil {
		t.Fatal(err)
	}
	return link, filepath.Base(target)
}

// deviceFlushes is the count of cache flushes dir's block device has
// completed (the 16th field of its stat, Documentation/block/stat.rst).
func deviceFlushes(t *testing.T, dir string) int {
	t.Helper()
	link, _ := blockDev(t, dir)
	data, err := os.ReadFile(filepath.Join(link, "stat"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data))
	if len(f) < 17 {
		t.Fatalf("block stat %q has no flush count", data)
	}
	n, err := strconv.Atoi(f[15])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// commitFlushes is the count of cache flushes of one journal commit on
// the file system at mnt: a new file written and fsynced.
func commitFlushes(t *testing.T, mnt string) float64 {
	t.Helper()
	const n = 20
	before := deviceFlushes(t, mnt)
	for i := range n {
		f, err := os.Create(filepath.Join(mnt, fmt.Sprintf("flush%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteString("x")
		if err == nil {
			err = f.Sync()
		}
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return float64(deviceFlushes(t, mnt)-before) / n
}

// TestSaveOneJournalCommit: on ext4 with a journal, a save (the file,
// its name in cur/, its dovecot-uidlist record) costs one journal commit,
// where the POSIX order costs two (journal.go), and no cache flush but
// the commit's.
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
	before, flushed := jbd2Commits(t, mnt), deviceFlushes(t, mnt)
	for range n {
		if _, _, err := s.Append("INBOX", strings.NewReader(msg), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	per := float64(jbd2Commits(t, mnt)-before) / n
	flushes := float64(deviceFlushes(t, mnt)-flushed) / n
	t.Logf("%.2f journal commits and %.2f cache flushes a save", per, flushes)
	if per > 1.5 {
		t.Fatalf("a save costs %.2f journal commits, want 1", per)
	}
	// The commit's own flushes only (two on a device without FUA, as a
	// loop device): an fsync that finds nothing to commit still
	// flushes the cache.
	commit := commitFlushes(t, mnt)
	if flushes > per*commit+0.5 {
		t.Fatalf("a save costs %.2f cache flushes for %.2f journal commits of %.0f flushes", flushes, per, commit)
	}

	// A save that rewrites dovecot-uidlist (a quarter of its records
	// expunged: imaptest's mailboxes of a message or two) is one commit
	// too.
	if err := s.Create("Small", nil); err != nil {
		t.Fatal(err)
	}
	ul := filepath.Join(root, ".Small", "dovecot-uidlist")
	rewrites, commits, rewriteFlushes := 0, 0, 0
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
		before, flushed := jbd2Commits(t, mnt), deviceFlushes(t, mnt)
		if _, _, err := s.Append("Small", strings.NewReader(msg), storage.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
		if st1, err := os.Stat(ul); err == nil && !os.SameFile(st0, st1) {
			rewrites++ // replaced, not appended to
			commits += jbd2Commits(t, mnt) - before
			rewriteFlushes += deviceFlushes(t, mnt) - flushed
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
	t.Logf("%d of 20 saves after an expunge rewrote dovecot-uidlist, in %d journal commits and %d cache flushes", rewrites, commits, rewriteFlushes)
	if rewrites < 3 {
		t.Fatalf("only %d of 20 saves after an expunge rewrote dovecot-uidlist", rewrites)
	}
	if commits > rewrites+1 {
		t.Fatalf("%d saves that rewrote dovecot-uidlist cost %d journal commits, want one each", rewrites, commits)
	}
	if float64(rewriteFlushes) > float64(commits)*commit+float64(rewrites)/2 {
		t.Fatalf("%d saves that rewrote dovecot-uidlist cost %d cache flushes for %d journal commits of %.0f flushes", rewrites, rewriteFlushes, commits, commit)
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
