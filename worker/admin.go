package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"cote/admin"
	"cote/imap"
	"cote/proto"
	"cote/sieve/script"
	"cote/storage"
)

// This file runs coteadm's mail commands inside the user's worker, so
// that they are ordered with the user's live sessions and deliveries.
// The arguments are doveadm's: a search query in IMAP SEARCH syntax
// (imap.ParseSearch) with `mailbox NAME` keys choosing the mailboxes.

// errBusy is a command that needs the store to itself while sessions run.
var errBusy = errors.New("busy")

// admin runs one coteadm mailbox command against the user's store, in
// this process, so it is ordered with the user's live sessions.
func (w *Worker) admin(m *proto.Admin) {
	var req admin.Request
	resp := func() *admin.Response {
		if err := json.Unmarshal(m.Request, &req); err != nil {
			return admin.Errorf("bad request: %v", err)
		}
		if err := w.ensureStore(m.User, m.Fields); err != nil {
			w.o.Log.Error("admin: open store", "err", err)
			return admin.CodeErrorf(admin.CodeTempFail, "cannot open the mail store; see the server log")
		}
		r, err := w.adminCommand(&req, m.Fields)
		if err != nil {
			return admin.CodeErrorf(errorCode(err), "%s: %v", req.Command, err)
		}
		return r
	}()
	if resp.OK {
		w.o.Log.Info("admin command", "command", req.Command, "args", strings.Join(req.Args, " "))
	} else {
		w.o.Log.Info("admin command failed", "command", req.Command, "err", resp.Error)
	}
	body, _ := json.Marshal(resp)
	if len(body) > proto.MaxAdminPayload {
		body, _ = json.Marshal(admin.Errorf("%s: result too large (%d bytes); narrow the query", req.Command, len(body)))
	}
	w.o.Ctl.Send(&proto.AdminReply{Seq: m.Seq, Response: body})
}

// errorCode classifies a command's error for coteadm's exit status.
func errorCode(err error) string {
	switch {
	case errors.Is(err, storage.ErrNoSuchMailbox), errors.Is(err, storage.ErrNoSuchMessage), errors.Is(err, script.ErrNotFound):
		return admin.CodeNotFound
	case errors.Is(err, storage.ErrTemporary), errors.Is(err, storage.ErrClosed), errors.Is(err, errBusy):
		return admin.CodeTempFail
	}
	return ""
}

func needArgs(args []string, n int, usage string) error {
	if len(args) < n {
		return fmt.Errorf("usage: %s", usage)
	}
	return nil
}

// done is the empty result of a command that changes things and prints
// nothing, as doveadm's do.
func done() *admin.Response { return admin.Table(nil, nil) }

func (w *Worker) adminCommand(req *admin.Request, fields []string) (*admin.Response, error) {
	st, a := w.store, req.Args
	switch req.Command {
	case "mailbox list":
		return mailboxList(st, a)
	case "mailbox status":
		return mailboxStatus(st, a)
	case "mailbox create":
		return eachName(a, "mailbox create NAME...", func(n string) error { return st.Create(n, nil) })
	case "mailbox delete":
		return eachName(a, "mailbox delete NAME...", st.Delete)
	case "mailbox rename":
		if err := needArgs(a, 2, "mailbox rename OLD NEW"); err != nil {
			return nil, err
		}
		return done(), st.Rename(a[0], a[1])
	case "mailbox subscribe", "mailbox unsubscribe":
		sub := req.Command == "mailbox subscribe"
		return eachName(a, req.Command+" NAME...", func(n string) error { return st.SetSubscribed(n, sub) })
	case "fetch":
		return adminFetch(st, a)
	case "search":
		return adminSearch(st, a)
	case "expunge":
		return adminExpunge(st, a)
	case "flags add", "flags remove", "flags replace":
		return adminFlags(st, req.Command, a)
	case "copy", "move":
		return adminCopy(st, req.Command, a)
	case "import":
		return w.adminImport(fields, a)
	case "export":
		return w.adminExport(fields, a)
	case "index rebuild":
		return w.adminIndexRebuild(fields)
	case "force-resync":
		return forceResync(st, a)
	case "quota get":
		return quotaGet(st)
	case "quota recalc":
		if _, err := forceResync(st, nil); err != nil {
			return nil, err
		}
		return quotaGet(st)
	case "sieve put", "sieve list", "sieve get", "sieve activate", "sieve deactivate", "sieve delete":
		st, err := w.sieveScripts(fields)
		if err != nil {
			return nil, err
		}
		return adminSieve(st, req.Command, a, req.Input)
	}
	return nil, fmt.Errorf("unknown command")
}

func eachName(names []string, usage string, f func(string) error) (*admin.Response, error) {
	if err := needArgs(names, 1, usage); err != nil {
		return nil, err
	}
	for _, n := range names {
		if err := f(n); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
	}
	return done(), nil
}

// mailboxList: mailbox list [MASK...] (LIST wildcards * and %).
func mailboxList(st storage.Store, masks []string) (*admin.Response, error) {
	boxes, err := st.List()
	if err != nil {
		return nil, err
	}
	var rows [][]string
	for _, b := range boxes {
		if len(masks) > 0 && !matchesAny(masks, b.Name, st.Delimiter()) {
			continue
		}
		rows = append(rows, []string{b.Name, strings.Join(b.Attrs, " "), strconv.FormatBool(b.Subscribed)})
	}
	return admin.Table([]string{"mailbox", "attributes", "subscribed"}, rows), nil
}

// statusFields are mailbox status's fields, in output order.
var statusFields = []string{"messages", "recent", "unseen", "deleted", "uidnext", "uidvalidity", "highestmodseq", "vsize"}

// mailboxStatus: mailbox status [FIELDS] MAILBOX... FIELDS is one word of
// space-separated field names or "all", as doveadm mailbox status takes
// it; with a single argument it is the mailbox and every field is shown.
func mailboxStatus(st storage.Store, a []string) (*admin.Response, error) {
	fields := statusFields
	if len(a) >= 2 {
		if f, ok := parseStatusFields(a[0]); ok {
			fields, a = f, a[1:]
		}
	}
	if len(a) == 0 {
		a = []string{"INBOX"}
	}
	names, err := resolveMailboxes(st, a)
	if err != nil {
		return nil, err
	}
	var rows [][]string
	for _, n := range names {
		s, err := st.Status(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		vals := map[string]string{
			"messages": u32(s.Messages), "recent": u32(s.Recent), "unseen": u32(s.Unseen),
			"deleted": u32(s.Deleted), "uidnext": u32(s.UIDNext), "uidvalidity": u32(s.UIDValidity),
			"highestmodseq": strconv.FormatUint(s.HighestModSeq, 10), "vsize": strconv.FormatInt(s.Size, 10),
		}
		row := []string{n}
		for _, f := range fields {
			row = append(row, vals[f])
		}
		rows = append(rows, row)
	}
	return admin.Table(append([]string{"mailbox"}, fields...), rows), nil
}

func parseStatusFields(s string) ([]string, bool) {
	words := strings.Fields(strings.ToLower(s))
	if len(words) == 1 && words[0] == "all" {
		return statusFields, true
	}
	for _, f := range words {
		if !slices.Contains(statusFields, f) {
			return nil, false
		}
	}
	return words, len(words) > 0
}

func limit(n int64) string {
	if n <= 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

func u32(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

// matchMailbox matches a mailbox name against a LIST pattern (RFC 9051
// section 6.3.9: "*" matches anything, "%" anything but the hierarchy
// delimiter); INBOX is case-insensitive.
func matchMailbox(pattern, name string, delim rune) bool {
	if strings.EqualFold(name, "INBOX") && strings.EqualFold(pattern, "INBOX") {
		return true
	}
	if pattern == "" {
		return name == ""
	}
	switch pattern[0] {
	case '*', '%':
		for i := 0; i <= len(name); i++ {
			if matchMailbox(pattern[1:], name[i:], delim) {
				return true
			}
			if i < len(name) && pattern[0] == '%' && rune(name[i]) == delim {
				return false
			}
		}
		return false
	}
	return name != "" && name[0] == pattern[0] && matchMailbox(pattern[1:], name[1:], delim)
}

func matchesAny(patterns []string, name string, delim rune) bool {
	for _, p := range patterns {
		if matchMailbox(p, name, delim) {
			return true
		}
	}
	return false
}

// resolveMailboxes returns the selectable mailboxes the names and
// patterns give, in listing order; none given means all of them. A name
// without wildcards that names no mailbox is storage.ErrNoSuchMailbox.
func resolveMailboxes(st storage.Store, patterns []string) ([]string, error) {
	boxes, err := st.List()
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, b := range boxes {
		if slices.Contains(b.Attrs, storage.AttrNoselect) || slices.Contains(b.Attrs, storage.AttrNonExistent) {
			continue
		}
		if len(patterns) == 0 || matchesAny(patterns, b.Name, st.Delimiter()) {
			out = append(out, b.Name)
			seen[strings.ToUpper(b.Name)] = true
		}
	}
	for _, p := range patterns {
		if strings.ContainsAny(p, "*%") {
			continue
		}
		found := false
		for _, n := range out {
			if matchMailbox(p, n, st.Delimiter()) {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%s: %w", p, storage.ErrNoSuchMailbox)
		}
	}
	return out, nil
}

// eachMatch runs f on every mailbox the query names with the UIDs of its
// matching messages (mailboxes without matches are skipped).
func eachMatch(st storage.Store, q *imap.SearchQuery, readOnly bool, f func(mb storage.Mailbox, uids []uint32) error) error {
	names, err := resolveMailboxes(st, q.Mailboxes)
	if err != nil {
		return err
	}
	for _, n := range names {
		err := func() error {
			mb, err := st.Open(n, readOnly)
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			defer mb.Close()
			uids, err := imap.Search(mb, q)
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			if len(uids) == 0 {
				return nil
			}
			return f(mb, uids)
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// query parses a command's search query; required refuses an empty one
// (a command that changes mail must be told "all" to touch every message).
func query(args []string, required bool, usage string) (*imap.SearchQuery, error) {
	if required && len(args) == 0 {
		return nil, fmt.Errorf("a search query is required (\"all\" for every message); usage: %s", usage)
	}
	return imap.ParseSearch(args)
}

// adminSearch: search QUERY... lists mailbox and UID of every match.
func adminSearch(st storage.Store, a []string) (*admin.Response, error) {
	q, err := query(a, false, "")
	if err != nil {
		return nil, err
	}
	var rows [][]string
	err = eachMatch(st, q, true, func(mb storage.Mailbox, uids []uint32) error {
		for _, u := range uids {
			rows = append(rows, []string{mb.Name(), u32(u)})
		}
		return nil
	})
	return admin.Table([]string{"mailbox", "uid"}, rows), err
}

// adminExpunge: expunge QUERY... removes the matching messages.
func adminExpunge(st storage.Store, a []string) (*admin.Response, error) {
	q, err := query(a, true, "expunge QUERY")
	if err != nil {
		return nil, err
	}
	return done(), eachMatch(st, q, false, func(mb storage.Mailbox, uids []uint32) error {
		if _, err := mb.Store(uids, storage.FlagsAdd, []string{storage.FlagDeleted}, 0); err != nil {
			return err
		}
		_, err := mb.Expunge(uids)
		return err
	})
}

// adminFlags: flags add|remove|replace FLAGS QUERY..., FLAGS being one
// word of space-separated flags and keywords.
func adminFlags(st storage.Store, cmd string, a []string) (*admin.Response, error) {
	usage := cmd + " FLAGS QUERY"
	if err := needArgs(a, 1, usage); err != nil {
		return nil, err
	}
	q, err := query(a[1:], true, usage)
	if err != nil {
		return nil, err
	}
	op := map[string]storage.FlagOp{"flags add": storage.FlagsAdd, "flags remove": storage.FlagsRemove, "flags replace": storage.FlagsReplace}[cmd]
	flags := strings.Fields(a[0])
	return done(), eachMatch(st, q, false, func(mb storage.Mailbox, uids []uint32) error {
		_, err := mb.Store(uids, op, flags, 0)
		return err
	})
}

// adminCopy: copy|move DEST QUERY... DEST must exist; a move leaves the
// messages already in DEST where they are.
func adminCopy(st storage.Store, cmd string, a []string) (*admin.Response, error) {
	usage := cmd + " DESTINATION QUERY"
	if err := needArgs(a, 1, usage); err != nil {
		return nil, err
	}
	dest := a[0]
	if _, err := st.Status(dest); err != nil {
		return nil, fmt.Errorf("%s: %w", dest, err)
	}
	q, err := query(a[1:], true, usage)
	if err != nil {
		return nil, err
	}
	return done(), eachMatch(st, q, cmd == "copy", func(mb storage.Mailbox, uids []uint32) error {
		if cmd == "copy" {
			_, err := mb.Copy(uids, dest)
			return err
		}
		if strings.EqualFold(mb.Name(), dest) {
			return nil
		}
		_, err := mb.Move(uids, dest)
		return err
	})
}

// fetchFields are the fields fetch knows, as doveadm-fetch(1) names them.
var fetchFields = []string{"mailbox", "uid", "seq", "flags", "modseq", "size", "size.virtual", "size.physical",
	"date", "date.received", "date.saved", "date.sent", "hdr", "hdr.NAME", "body", "text", "subject", "from"}

// adminFetch: fetch FIELDS QUERY..., FIELDS one word of space-separated
// field names.
func adminFetch(st storage.Store, a []string) (*admin.Response, error) {
	usage := "fetch FIELDS QUERY (fields: " + strings.Join(fetchFields, " ") + ")"
	if err := needArgs(a, 1, usage); err != nil {
		return nil, err
	}
	fields := strings.Fields(strings.ToLower(a[0]))
	for _, f := range fields {
		if !slices.Contains(fetchFields, f) && !strings.HasPrefix(f, "hdr.") {
			return nil, fmt.Errorf("unknown field %q; usage: %s", f, usage)
		}
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("usage: %s", usage)
	}
	q, err := query(a[1:], false, usage)
	if err != nil {
		return nil, err
	}
	var rows [][]string
	err = eachMatch(st, q, true, func(mb storage.Mailbox, uids []uint32) error {
		seq := map[uint32]int{}
		msgs := mb.Messages()
		for i, m := range msgs {
			seq[m.UID] = i
		}
		for _, uid := range uids {
			row, err := fetchRow(mb, msgs[seq[uid]], seq[uid]+1, fields)
			if errors.Is(err, storage.ErrNoSuchMessage) {
				continue // expunged meanwhile
			}
			if err != nil {
				return err
			}
			rows = append(rows, row)
		}
		return nil
	})
	return admin.Table(fields, rows), err
}

func fetchRow(mb storage.Mailbox, m storage.Message, seq int, fields []string) ([]string, error) {
	var raw []byte
	var hdr mail.Header
	load := func() error {
		if raw != nil {
			return nil
		}
		rc, err := mb.Read(m.UID)
		if err != nil {
			return err
		}
		defer rc.Close()
		if raw, err = io.ReadAll(rc); err != nil {
			return err
		}
		if msg, err := mail.ReadMessage(strings.NewReader(string(raw))); err == nil {
			hdr = msg.Header
		}
		return nil
	}
	row := make([]string, len(fields))
	for i, f := range fields {
		switch f {
		case "mailbox":
			row[i] = mb.Name()
		case "uid":
			row[i] = u32(m.UID)
		case "seq":
			row[i] = strconv.Itoa(seq)
		case "flags":
			row[i] = strings.Join(m.Flags, " ")
		case "modseq":
			row[i] = strconv.FormatUint(m.ModSeq, 10)
		case "size", "size.virtual", "size.physical":
			row[i] = strconv.FormatInt(m.Size, 10)
		case "date", "date.received":
			row[i] = m.InternalDate.Format(time.RFC3339)
		case "date.saved":
			d := m.SaveDate
			if d.IsZero() {
				d = m.InternalDate
			}
			row[i] = d.Format(time.RFC3339)
		default:
			if err := load(); err != nil {
				return nil, err
			}
			head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
			switch {
			case f == "date.sent":
				if t, err := hdr.Date(); err == nil {
					row[i] = t.Format(time.RFC3339)
				}
			case f == "hdr":
				row[i] = head + "\r\n\r\n"
			case f == "body":
				row[i] = body
			case f == "text":
				row[i] = string(raw)
			case f == "subject", f == "from":
				row[i] = hdr.Get(f)
			case strings.HasPrefix(f, "hdr."):
				row[i] = hdr.Get(f[len("hdr."):])
			}
		}
	}
	return row, nil
}
