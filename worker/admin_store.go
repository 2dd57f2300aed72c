package worker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"cote/admin"
	"cote/imap"
	"cote/sieve"
	"cote/sieve/script"
	"cote/storage"
	"cote/storage/maildir"
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
	case strings.HasPrefix(loc, "mbox:"):
		return nil, nil, errors.New("mbox import and export are not available yet; use a Maildir (maildir:PATH)")
	case strings.Contains(loc, ":") && !strings.HasPrefix(loc, "/"):
		return nil, nil, fmt.Errorf("%q: unknown mail location type (want maildir:PATH)", location)
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
// into the Maildir at LOCATION (maildir:PATH), one folder per mailbox.
func (w *Worker) adminExport(fields, a []string) (*admin.Response, error) {
	usage := "export maildir:PATH [QUERY]"
	if err := needArgs(a, 1, usage); err != nil {
		return nil, err
	}
	q, err := query(a[1:], false, usage)
	if err != nil {
		return nil, err
	}
	dst, closeDst, err := w.otherStore(fields, a[0])
	if err != nil {
		return nil, err
	}
	defer closeDst()
	rows, err := transfer(w.store, dst, q, func(n string) string { return n })
	return admin.Table([]string{"mailbox", "messages"}, rows), err
}

// adminImport: import LOCATION PARENT [QUERY...] copies the matching
// messages of the Maildir at LOCATION into the user's mailboxes of the
// same names under PARENT ("" for the same names), as doveadm import.
func (w *Worker) adminImport(fields, a []string) (*admin.Response, error) {
	usage := "import maildir:PATH PARENT [QUERY]"
	if err := needArgs(a, 2, usage); err != nil {
		return nil, err
	}
	q, err := query(a[2:], false, usage)
	if err != nil {
		return nil, err
	}
	src, closeSrc, err := w.otherStore(fields, a[0])
	if err != nil {
		return nil, err
	}
	defer closeSrc()
	parent := strings.TrimRight(a[1], string(w.store.Delimiter()))
	rows, err := transfer(src, w.store, q, func(n string) string {
		if parent == "" {
			return n
		}
		return parent + string(w.store.Delimiter()) + n
	})
	return admin.Table([]string{"mailbox", "messages"}, rows), err
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
		w.store = nil
	}
	res, err := maildir.Rebuild(opts)
	st, oerr := maildir.Open(opts)
	if oerr == nil {
		w.store = st
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

// adminSieve manages the user's Sieve scripts in the same store
// ManageSieve and delivery use (sieve/script), as the user.
func adminSieve(home, cmd string, a []string, input []byte) (*admin.Response, error) {
	if home == "" {
		return nil, errors.New("the user has no home directory for Sieve scripts")
	}
	st := script.New(home)
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
