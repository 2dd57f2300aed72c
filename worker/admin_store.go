package worker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"cote/admin"
	"cote/imap"
	"cote/sieve"
	"cote/sieve/script"
	"cote/storage"
	"cote/storage/maildir"
	"cote/storage/mbox"
)

// This file has coteadm's commands that work on whole stores: import,
// export, index rebuild, force-resync, quota, and the user's Sieve
// scripts. They run as the user (the worker's uid), so the paths given
// to import and export must be readable or writable by the user, as with
// doveadm, which also drops to the user's uid.

// otherStore opens a Maildir that is not the user's own (import's
// source, export's destination) with a throw-away index, so that nothing
// of cote's is left in it besides what Dovecot keeps too
// (dovecot-uidlist, dovecot-keywords).
func (w *Worker) otherStore(fields []string, location string) (storage.Store, func(), error) {
	loc := location
	switch {
	case strings.HasPrefix(loc, "maildir:"):
	case strings.Contains(loc, ":") && !strings.HasPrefix(loc, "/"):
		return nil, nil, fmt.Errorf("%q: unknown mail location type (want maildir:PATH or mbox:FILE)", location)
	default:
		loc = "maildir:" + loc
	}
	path, _, _ := strings.Cut(strings.TrimPrefix(loc, "maildir:"), ":")
	if !filepath.IsAbs(path) && !strings.HasPrefix(path, "~") {
		return nil, nil, fmt.Errorf("%q: the path must be absolute", location)
	}
	tmp, err := os.MkdirTemp("", "cote-admin-index-")
	if err != nil {
		return nil, nil, err
	}
	st, err := maildir.Open(maildir.Options{
		Location: loc, Home: fieldValue(fields, "home"), User: w.user,
		Fsync: fsyncMode(w.o.Settings.MailFsync), PollInterval: -1,
		IndexPath: filepath.Join(tmp, maildir.IndexFile), Log: w.o.Log,
	})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, fmt.Errorf("%s: %w", location, err)
	}
	return st, func() {
		st.Close()
		os.RemoveAll(tmp)
	}, nil
}

// transfer copies the messages of src that match q into dst, keeping
// flags, keywords and internal dates; name maps a source mailbox to its
// destination. It returns one row per mailbox: name and count.
func transfer(src, dst storage.Store, q *imap.SearchQuery, name func(string) string) ([][]string, error) {
	var rows [][]string
	err := eachMatch(src, q, true, func(mb storage.Mailbox, uids []uint32) error {
		to := name(mb.Name())
		if !strings.EqualFold(to, "INBOX") {
			if err := dst.Create(to, nil); err != nil && !errors.Is(err, storage.ErrMailboxExists) {
				return fmt.Errorf("create %s: %w", to, err)
			}
		}
		msgs := map[uint32]storage.Message{}
		for _, m := range mb.Messages() {
			msgs[m.UID] = m
		}
		n := 0
		for _, uid := range uids {
			m := msgs[uid]
			rc, err := mb.Read(uid)
			if errors.Is(err, storage.ErrNoSuchMessage) {
				continue
			}
			if err != nil {
				return fmt.Errorf("%s uid %d: %w", mb.Name(), uid, err)
			}
			_, _, err = dst.Append(to, rc, storage.AppendOptions{Flags: m.Flags, Date: m.InternalDate})
			rc.Close()
			if err != nil {
				return fmt.Errorf("%s uid %d to %s: %w", mb.Name(), uid, to, err)
			}
			n++
		}
		rows = append(rows, []string{to, strconv.Itoa(n)})
		return nil
	})
	return rows, err
}

// adminExport: export LOCATION [QUERY...] writes the matching messages
// into the Maildir at LOCATION (maildir:PATH), one folder per mailbox,
// or into the single mbox file at LOCATION (mbox:FILE).
func (w *Worker) adminExport(fields, a []string) (*admin.Response, error) {
	usage := "export maildir:PATH|mbox:FILE [QUERY]"
	if err := needArgs(a, 1, usage); err != nil {
		return nil, err
	}
	q, err := query(a[1:], false, usage)
	if err != nil {
		return nil, err
	}
	if loc, ok := strings.CutPrefix(a[0], "mbox:"); ok {
		path, err := w.mboxPath(fields, loc)
		if err != nil {
			return nil, err
		}
		rows, err := exportMbox(w.store, q, path)
		return admin.Table([]string{"mailbox", "messages"}, rows), err
	}
	dst, closeDst, err := w.otherStore(fields, a[0])
	if err != nil {
		return nil, err
	}
	defer closeDst()
	rows, err := transfer(w.store, dst, q, func(n string) string { return n })
	return admin.Table([]string{"mailbox", "messages"}, rows), err
}

// adminImport: import [-m DEST] LOCATION [PARENT] [QUERY...]. From a
// Maildir it copies the matching messages into the user's mailboxes of
// the same names under PARENT ("" for the same names), as doveadm
// import, or all into DEST with -m. From an mbox file (mbox:FILE) it
// appends every message to DEST (INBOX by default).
func (w *Worker) adminImport(fields, a []string) (*admin.Response, error) {
	usage := "import [-m DEST] maildir:PATH|mbox:FILE [PARENT] [QUERY]"
	dest := ""
	if len(a) >= 2 && a[0] == "-m" {
		dest, a = a[1], a[2:]
		if dest == "" {
			return nil, fmt.Errorf("-m needs a mailbox name; usage: %s", usage)
		}
	}
	if err := needArgs(a, 1, usage); err != nil {
		return nil, err
	}
	if loc, ok := strings.CutPrefix(a[0], "mbox:"); ok {
		if len(a) > 1 {
			return nil, fmt.Errorf("an mbox import takes every message of the file, into -m DEST (INBOX by default): unexpected %q", a[1])
		}
		path, err := w.mboxPath(fields, loc)
		if err != nil {
			return nil, err
		}
		if dest == "" {
			dest = "INBOX"
		}
		rows, err := importMbox(w.store, path, dest)
		return admin.Table([]string{"mailbox", "messages"}, rows), err
	}
	location, rest := a[0], a[1:]
	name := func(string) string { return dest }
	if dest == "" {
		if err := needArgs(rest, 1, usage); err != nil {
			return nil, err
		}
		parent := strings.TrimRight(rest[0], string(w.store.Delimiter()))
		rest = rest[1:]
		name = func(n string) string {
			if parent == "" {
				return n
			}
			return parent + string(w.store.Delimiter()) + n
		}
	}
	q, err := query(rest, false, usage)
	if err != nil {
		return nil, err
	}
	src, closeSrc, err := w.otherStore(fields, location)
	if err != nil {
		return nil, err
	}
	defer closeSrc()
	rows, err := transfer(src, w.store, q, name)
	return admin.Table([]string{"mailbox", "messages"}, rows), err
}

// mboxPath expands an mbox file's path as mail_location would (~, %u,
// %n, %d, %h), so that one command with -A names a file per user.
func (w *Worker) mboxPath(fields []string, loc string) (string, error) {
	l, err := mbox.ParseLocation("mbox:"+loc, fieldValue(fields, "home"), w.user)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(l.Root) {
		return "", fmt.Errorf("mbox:%s: the path must be absolute", loc)
	}
	return l.Root, nil
}

// exportMbox writes the messages q matches into a new mbox file at path
// (mbox.Writer), mailbox after mailbox, with their flags, keywords and
// internal dates. The file is written beside path and linked into
// place, so an existing file is never overwritten nor a partial one
// left under the name.
func exportMbox(st storage.Store, q *imap.SearchQuery, path string) ([][]string, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%s exists; export writes a new file", path)
	}
	// First the matches and their keywords, which X-IMAPbase lists in
	// the first message.
	type match struct {
		name string
		uids []uint32
	}
	var matches []match
	var keywords []string
	err := eachMatch(st, q, true, func(mb storage.Mailbox, uids []uint32) error {
		want := map[uint32]bool{}
		for _, u := range uids {
			want[u] = true
		}
		for _, m := range mb.Messages() {
			if !want[m.UID] {
				continue
			}
			for _, f := range m.Flags {
				if !strings.HasPrefix(f, "\\") && !slices.Contains(keywords, f) {
					keywords = append(keywords, f)
				}
			}
		}
		matches = append(matches, match{mb.Name(), uids})
		return nil
	})
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	mw := mbox.NewWriter(f, keywords)
	var rows [][]string
	for _, mt := range matches {
		n, err := writeMboxMessages(st, mw, mt.name, mt.uids)
		if err != nil {
			return nil, err
		}
		rows = append(rows, []string{mt.name, strconv.Itoa(n)})
	}
	if err := mw.Flush(); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	if err := os.Link(f.Name(), path); err != nil {
		return nil, err
	}
	return rows, nil
}

// writeMboxMessages writes the messages uids of one mailbox; messages
// expunged since the search are skipped.
func writeMboxMessages(st storage.Store, mw *mbox.Writer, name string, uids []uint32) (int, error) {
	mb, err := st.Open(name, true)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	defer mb.Close()
	msgs := map[uint32]storage.Message{}
	for _, m := range mb.Messages() {
		msgs[m.UID] = m
	}
	n := 0
	for _, uid := range uids {
		m, ok := msgs[uid]
		if !ok {
			continue
		}
		rc, err := mb.Read(uid)
		if errors.Is(err, storage.ErrNoSuchMessage) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("%s uid %d: %w", name, uid, err)
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return n, fmt.Errorf("%s uid %d: %w", name, uid, err)
		}
		var flags []string
		for _, f := range m.Flags {
			if f != storage.FlagRecent {
				flags = append(flags, f)
			}
		}
		if err := mw.Write(mbox.Message{Sender: mbox.SenderOf(raw), Date: m.InternalDate, Flags: flags, Content: raw}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// importMbox appends every message of the mbox file at path (cote's,
// Dovecot's, or another program's) to the mailbox dest, created as
// needed, with the flags of its status headers and the date of its
// From_ line.
func importMbox(st storage.Store, path, dest string) ([][]string, error) {
	f, err := mbox.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mbox:%s: %w", path, err)
	}
	if f.Len() == 0 && f.Garbage {
		return nil, fmt.Errorf("mbox:%s: not an mbox file (no From_ line)", path)
	}
	if !strings.EqualFold(dest, "INBOX") {
		if err := st.Create(dest, nil); err != nil && !errors.Is(err, storage.ErrMailboxExists) {
			return nil, fmt.Errorf("create %s: %w", dest, err)
		}
	}
	n := 0
	for i := range f.Len() {
		m := f.Message(i)
		if _, _, err := st.Append(dest, bytes.NewReader(m.Content), storage.AppendOptions{Flags: m.Flags, Date: m.Date}); err != nil {
			return [][]string{{dest, strconv.Itoa(n)}}, fmt.Errorf("message %d to %s: %w", i+1, dest, err)
		}
		n++
	}
	return [][]string{{dest, strconv.Itoa(n)}}, nil
}

// adminIndexRebuild rebuilds the user's index from the Maildir
// (maildir.Rebuild). It needs the store to itself: with a session open
// it fails with errBusy, and the store is closed and opened again
// around the rebuild.
func (w *Worker) adminIndexRebuild(fields []string) (*admin.Response, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := w.live.Load(); n > 0 {
		return nil, fmt.Errorf("%w: the user has %d open sessions; end them first (coteadm kick)", errBusy, n)
	}
	opts, err := w.storeOptions(fields)
	if err != nil {
		return nil, err
	}
	if w.store != nil {
		if err := w.store.Close(); err != nil {
			w.o.Log.Warn("index rebuild: close store", "err", err)
		}
		w.store, w.textIndexer = nil, nil
	}
	// The worker runs with max_procs (GOMAXPROCS) 1 for its sessions;
	// the rebuild parses messages on every CPU, and no session runs.
	procs := runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), runtime.NumCPU()))
	res, err := maildir.Rebuild(opts)
	runtime.GOMAXPROCS(procs)
	st, oerr := maildir.Open(opts)
	if oerr == nil {
		w.store = st
		w.textIndexer, _ = st.(textIndexerStarter)
	}
	if err != nil {
		return nil, err
	}
	if oerr != nil {
		return nil, oerr
	}
	w.o.Log.Info("index rebuilt", "index", res.Index, "mailboxes", res.Mailboxes, "messages", res.Messages)
	return admin.Table([]string{"index", "mailboxes", "messages", "parsed", "history_reset"}, [][]string{{
		res.Index, strconv.Itoa(res.Mailboxes), strconv.Itoa(res.Messages), strconv.Itoa(res.Parsed), strconv.FormatBool(res.HistoryReset),
	}}), nil
}

// forceResync rescans the mailboxes the patterns name (all when none)
// and reconciles the index with the files, as doveadm force-resync.
func forceResync(st storage.Store, patterns []string) (*admin.Response, error) {
	names, err := resolveMailboxes(st, patterns)
	if err != nil {
		return nil, err
	}
	var rows [][]string
	for _, n := range names {
		mb, err := st.Open(n, true)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		_, err = mb.Poll()
		count := len(mb.Messages())
		mb.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		rows = append(rows, []string{n, strconv.Itoa(count)})
	}
	return admin.Table([]string{"mailbox", "messages"}, rows), nil
}

func quotaGet(st storage.Store) (*admin.Response, error) {
	qs, ok := st.(storage.QuotaStore)
	if !ok {
		return nil, errors.New("this mail store keeps no quota")
	}
	q, err := qs.Quota()
	if err != nil {
		return nil, err
	}
	pct := func(used, lim int64) string {
		if lim <= 0 {
			return "0"
		}
		return strconv.FormatInt(used*100/lim, 10)
	}
	return admin.Table([]string{"type", "value", "limit", "%"}, [][]string{
		{"STORAGE", strconv.FormatInt(q.StorageUsed, 10), limit(q.StorageLimit), pct(q.StorageUsed, q.StorageLimit)},
		{"MESSAGE", strconv.FormatInt(q.MessagesUsed, 10), limit(q.MessageLimit), pct(q.MessagesUsed, q.MessageLimit)},
	}), nil
}

// sieveScripts is the user's script store as delivery finds it: plugin
// { sieve = } (Pigeonhole's location, as a migrated Dovecot
// configuration keeps it) or ~/sieve with the ~/.cote.sieve link.
func (w *Worker) sieveScripts(fields []string) (*script.Store, error) {
	home := fieldValue(fields, "home")
	if home == "" {
		return nil, errors.New("the user has no home directory for Sieve scripts")
	}
	s := w.o.Settings
	return newSieveFilter(home, s.RecipientDelimiter, s.Hostname, s.Plugin, w.o.Log).scripts, nil
}

// adminSieve manages the user's Sieve scripts in the store delivery
// uses (sieveScripts), as the user.
func adminSieve(st *script.Store, cmd string, a []string, input []byte) (*admin.Response, error) {
	switch cmd {
	case "sieve list":
		list, err := st.List()
		if err != nil {
			return nil, err
		}
		var rows [][]string
		for _, s := range list {
			active := ""
			if s.Active {
				active = "ACTIVE"
			}
			rows = append(rows, []string{s.Name, active})
		}
		return admin.Table([]string{"script", "active"}, rows), nil
	case "sieve put":
		activate := len(a) > 0 && a[0] == "-a"
		if activate {
			a = a[1:]
		}
		if err := needArgs(a, 1, "sieve put [-a] NAME"); err != nil {
			return nil, err
		}
		// RFC 5804 section 2.6: a script that does not compile is not
		// stored.
		if _, err := sieve.Compile(input, sieve.CompileOptions{
			Name: a[0], Location: sieve.Personal, Include: script.DirResolver{Personal: st.Dir},
		}); err != nil {
			return nil, fmt.Errorf("script %s: %w", a[0], err)
		}
		if err := st.Put(a[0], input); err != nil {
			return nil, err
		}
		if activate {
			return done(), st.SetActive(a[0])
		}
		return done(), nil
	case "sieve get":
		if err := needArgs(a, 1, "sieve get NAME"); err != nil {
			return nil, err
		}
		src, err := st.Get(a[0])
		if err != nil {
			return nil, err
		}
		return admin.Table([]string{"script"}, [][]string{{string(src)}}), nil
	case "sieve activate":
		if err := needArgs(a, 1, "sieve activate NAME"); err != nil {
			return nil, err
		}
		return done(), st.SetActive(a[0])
	case "sieve deactivate":
		return done(), st.SetActive("")
	case "sieve delete":
		return eachName(a, "sieve delete NAME...", st.Delete)
	}
	return nil, fmt.Errorf("unknown command")
}
