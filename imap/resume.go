package imap

import (
	"context"
	"errors"
	"net"
	"slices"

	"cote/storage"
)

// Resume continues a session that hibernated (see hibernate.go) on conn,
// with the state Options.Hibernate was given. It answers as if the session
// had never left: it sends what changed in the selected mailbox since the
// client's view was exported (EXPUNGE or VANISHED, FETCH for flag changes,
// EXISTS and RECENT), goes on with the IDLE (Options.Leftover holds what
// the client sent meanwhile, usually DONE) and then serves commands as
// Serve does. It closes conn before it returns.
func Resume(ctx context.Context, conn net.Conn, o Options, state []byte) error {
	st, err := decodeState(state)
	if err != nil {
		conn.Close()
		return err
	}
	return serve(ctx, conn, o, func(s *session) error { return s.resume(st) })
}

func (s *session) resume(st *resumeState) error {
	s.mode = st.mode
	if st.mailbox != "" {
		if bye := s.reselect(st); bye != "" {
			return s.bye(bye)
		}
	}
	c := &command{tag: st.tag, name: "IDLE", p: &parser{}}
	if s.complete(c, s.idle(c)) {
		if s.hibernated {
			return ErrHibernated
		}
		return s.flush()
	}
	if err := s.flush(); err != nil {
		return err
	}
	return s.loop()
}

// reselect opens the mailbox the client had selected and brings the
// client's view up to date. It returns the BYE text when the session
// cannot go on: the mailbox is gone or was recreated (RFC 9051 section
// 2.3.1.1: a new UIDVALIDITY means the client must resynchronise, which
// it cannot in the middle of an IDLE).
func (s *session) reselect(st *resumeState) (bye string) {
	mbox, err := s.o.Store.Open(st.mailbox, st.readOnly)
	if err != nil {
		if !errors.Is(err, storage.ErrNoSuchMailbox) {
			s.log.Error("resume: open mailbox", "mailbox", st.mailbox, "err", err)
			return internalErrorText
		}
		return "Selected mailbox was deleted, have to disconnect."
	}
	status, err := mbox.Status()
	if err != nil {
		mbox.Close()
		s.log.Error("resume: mailbox status", "mailbox", st.mailbox, "err", err)
		return internalErrorText
	}
	if status.UIDValidity != st.uidValidity {
		mbox.Close()
		return "Mailbox UIDVALIDITY changed, have to disconnect."
	}
	v, changed, added := restoreView(st, mbox.Messages(), &s.mode)
	s.mbox, s.view = mbox, v
	s.announceFlags()
	v.flushExpunges(s.writeEnc)
	for _, uid := range changed {
		if seq := v.seqOf(uid); seq != 0 {
			s.writeEnc(v.fetchFlags(seq, v.msgs[seq-1]))
		}
	}
	v.apply(storage.Changes{Updated: added, HighestModSeq: status.HighestModSeq}, true, s.writeEnc)
	return ""
}

// restoreView rebuilds the client's view as it was exported, against the
// mailbox's messages now (cur, ascending by UID): messages gone since are
// marked for EXPUNGE, changed lists the known messages whose MODSEQ is
// above the HIGHESTMODSEQ the client knew (their flags may have changed),
// and added the messages the client has not seen.
func restoreView(st *resumeState, cur []storage.Message, mode *modes) (v *view, changed []uint32, added []storage.Message) {
	v = &view{gone: map[uint32]bool{}, mode: mode, flags: st.flags,
		saved: slices.Clone(st.saved), highestModSeq: st.highestModSeq}
	v.msgs = make([]storage.Message, 0, len(st.uids))
	i := 0
	for _, uid := range st.uids {
		for i < len(cur) && cur[i].UID < uid {
			i++
		}
		_, recent := slices.BinarySearch(st.recent, uid)
		if i < len(cur) && cur[i].UID == uid {
			m := cur[i]
			m.Recent = recent
			v.msgs = append(v.msgs, m)
			if m.ModSeq > st.highestModSeq {
				changed = append(changed, uid)
			}
			continue
		}
		v.msgs = append(v.msgs, storage.Message{UID: uid, Recent: recent})
		v.gone[uid] = true
	}
	v.told = uint32(len(v.msgs))
	v.toldRecent = v.recent()
	maxKnown := v.maxUID()
	for _, m := range cur {
		if m.UID > maxKnown {
			added = append(added, m)
		}
	}
	return v, changed, added
}
