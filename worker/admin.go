package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"sort"
	"strconv"
	"strings"
	"time"

	"cote/admin"
	"cote/proto"
	"cote/storage"
)

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
			return admin.Errorf("cannot open the mail store; see the server log")
		}
		r, err := w.adminCommand(&req)
		if err != nil {
			return admin.Errorf("%s: %v", req.Command, err)
		}
		return r
	}()
	if resp.OK {
		w.o.Log.Info("admin command", "command", req.Command, "args", strings.Join(req.Args, " "))
	}
	body, _ := json.Marshal(resp)
	if len(body) > proto.MaxAdminPayload {
		body, _ = json.Marshal(admin.Errorf("%s: result too large (%d bytes); narrow the query", req.Command, len(body)))
	}
	w.o.Ctl.Send(&proto.AdminReply{Seq: m.Seq, Response: body})
}

func needArgs(args []string, n int, usage string) error {
	if len(args) < n {
		return fmt.Errorf("usage: %s", usage)
	}
	return nil
}

func (w *Worker) adminCommand(req *admin.Request) (*admin.Response, error) {
	st, a := w.store, req.Args
	switch req.Command {
	case "mailbox list":
		boxes, err := st.List()
		if err != nil {
			return nil, err
		}
		var rows [][]string
		for _, b := range boxes {
			rows = append(rows, []string{b.Name, strings.Join(b.Attrs, " "), strconv.FormatBool(b.Subscribed)})
		}
		return admin.Table([]string{"mailbox", "attributes", "subscribed"}, rows), nil
	case "mailbox status":
		names := a
		if len(names) == 0 {
			names = []string{"INBOX"}
		}
		var rows [][]string
		for _, n := range names {
			s, err := st.Status(n)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			rows = append(rows, []string{n, u32(s.Messages), u32(s.Recent), u32(s.Unseen), u32(s.UIDNext),
				u32(s.UIDValidity), strconv.FormatUint(s.HighestModSeq, 10), strconv.FormatInt(s.Size, 10)})
		}
		return admin.Table([]string{"mailbox", "messages", "recent", "unseen", "uidnext", "uidvalidity", "highestmodseq", "vsize"}, rows), nil
	case "mailbox create":
		if err := needArgs(a, 1, "mailbox create NAME..."); err != nil {
			return nil, err
		}
		for _, n := range a {
			if err := st.Create(n, nil); err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
		}
		return admin.Table(nil, nil), nil
	case "mailbox delete":
		if err := needArgs(a, 1, "mailbox delete NAME..."); err != nil {
			return nil, err
		}
		for _, n := range a {
			if err := st.Delete(n); err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
		}
		return admin.Table(nil, nil), nil
	case "mailbox rename":
		if err := needArgs(a, 2, "mailbox rename OLD NEW"); err != nil {
			return nil, err
		}
		return admin.Table(nil, nil), st.Rename(a[0], a[1])
	case "mailbox subscribe", "mailbox unsubscribe":
		if err := needArgs(a, 1, req.Command+" NAME..."); err != nil {
			return nil, err
		}
		for _, n := range a {
			if err := st.SetSubscribed(n, req.Command == "mailbox subscribe"); err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
		}
		return admin.Table(nil, nil), nil
	case "fetch":
		return w.adminFetch(a)
	case "flags add", "flags remove", "flags replace":
		if err := needArgs(a, 3, req.Command+" MAILBOX UIDS FLAG..."); err != nil {
			return nil, err
		}
		op := map[string]storage.FlagOp{"flags add": storage.FlagsAdd, "flags remove": storage.FlagsRemove, "flags replace": storage.FlagsReplace}[req.Command]
		return withMailbox(st, a[0], false, func(mb storage.Mailbox) (*admin.Response, error) {
			uids, err := selectUIDs(mb, a[1])
			if err != nil {
				return nil, err
			}
			res, err := mb.Store(uids, op, a[2:], 0)
			if err != nil {
				return nil, err
			}
			return admin.Table([]string{"changed"}, [][]string{{strconv.Itoa(len(res.Changed))}}), nil
		})
	case "expunge":
		if err := needArgs(a, 2, "expunge MAILBOX UIDS"); err != nil {
			return nil, err
		}
		return withMailbox(st, a[0], false, func(mb storage.Mailbox) (*admin.Response, error) {
			uids, err := selectUIDs(mb, a[1])
			if err != nil {
				return nil, err
			}
			if _, err := mb.Store(uids, storage.FlagsAdd, []string{storage.FlagDeleted}, 0); err != nil {
				return nil, err
			}
			gone, err := mb.Expunge(uids)
			if err != nil {
				return nil, err
			}
			return admin.Table([]string{"expunged"}, [][]string{{strconv.Itoa(len(gone))}}), nil
		})
	case "quota get":
		qs, ok := st.(storage.QuotaStore)
		if !ok {
			return nil, errors.New("this mail store keeps no quota")
		}
		q, err := qs.Quota()
		if err != nil {
			return nil, err
		}
		return admin.Table([]string{"type", "value", "limit"}, [][]string{
			{"storage", strconv.FormatInt(q.StorageUsed, 10), limit(q.StorageLimit)},
			{"messages", strconv.FormatInt(q.MessagesUsed, 10), limit(q.MessageLimit)},
		}), nil
	}
	return nil, fmt.Errorf("unknown command")
}

func limit(n int64) string {
	if n <= 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

func u32(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

func withMailbox(st storage.Store, name string, readOnly bool, f func(storage.Mailbox) (*admin.Response, error)) (*admin.Response, error) {
	mb, err := st.Open(name, readOnly)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer mb.Close()
	return f(mb)
}

// selectUIDs parses "all" or a UID set ("1,3:5,9:*") against a mailbox.
func selectUIDs(mb storage.Mailbox, set string) ([]uint32, error) {
	msgs := mb.Messages()
	if set == "all" {
		uids := make([]uint32, len(msgs))
		for i, m := range msgs {
			uids[i] = m.UID
		}
		return uids, nil
	}
	var max uint32
	if len(msgs) > 0 {
		max = msgs[len(msgs)-1].UID
	}
	in := map[uint32]bool{}
	for _, part := range strings.Split(set, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := uidValue(lo, max)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = uidValue(hi, max); err != nil {
				return nil, err
			}
		}
		if a > b {
			a, b = b, a
		}
		for _, m := range msgs {
			if m.UID >= a && m.UID <= b {
				in[m.UID] = true
			}
		}
	}
	uids := make([]uint32, 0, len(in))
	for u := range in {
		uids = append(uids, u)
	}
	sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	return uids, nil
}

func uidValue(s string, max uint32) (uint32, error) {
	if s == "*" {
		return max, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad UID %q", s)
	}
	return uint32(n), nil
}

// adminFetch: fetch MAILBOX UIDS [FIELD...] with fields uid, flags, size,
// date (internal), savedate, modseq, subject, from, hdr (all headers),
// body (the whole message).
func (w *Worker) adminFetch(a []string) (*admin.Response, error) {
	if err := needArgs(a, 2, "fetch MAILBOX UIDS [uid flags size date savedate modseq subject from hdr body]"); err != nil {
		return nil, err
	}
	fields := a[2:]
	if len(fields) == 0 {
		fields = []string{"uid", "flags", "size", "date"}
	}
	return withMailbox(w.store, a[0], true, func(mb storage.Mailbox) (*admin.Response, error) {
		uids, err := selectUIDs(mb, a[1])
		if err != nil {
			return nil, err
		}
		byUID := map[uint32]storage.Message{}
		for _, m := range mb.Messages() {
			byUID[m.UID] = m
		}
		var rows [][]string
		for _, uid := range uids {
			m := byUID[uid]
			var hdr mail.Header
			var raw []byte
			row := make([]string, len(fields))
			for i, f := range fields {
				switch f {
				case "uid":
					row[i] = u32(m.UID)
				case "flags":
					row[i] = strings.Join(m.Flags, " ")
				case "size":
					row[i] = strconv.FormatInt(m.Size, 10)
				case "date":
					row[i] = m.InternalDate.Format(time.RFC3339)
				case "savedate":
					row[i] = m.SaveDate.Format(time.RFC3339)
				case "modseq":
					row[i] = strconv.FormatUint(m.ModSeq, 10)
				case "subject", "from", "hdr", "body":
					if raw == nil {
						rc, err := mb.Read(uid)
						if err != nil {
							return nil, err
						}
						raw, err = io.ReadAll(rc)
						rc.Close()
						if err != nil {
							return nil, err
						}
						if msg, err := mail.ReadMessage(strings.NewReader(string(raw))); err == nil {
							hdr = msg.Header
						}
					}
					switch f {
					case "subject":
						row[i] = hdr.Get("Subject")
					case "from":
						row[i] = hdr.Get("From")
					case "hdr":
						h, _, _ := strings.Cut(string(raw), "\r\n\r\n")
						row[i] = h
					case "body":
						row[i] = string(raw)
					}
				default:
					return nil, fmt.Errorf("unknown field %q", f)
				}
			}
			rows = append(rows, row)
		}
		return admin.Table(fields, rows), nil
	})
}
