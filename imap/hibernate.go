package imap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Hibernation (Dovecot's imap_hibernate_timeout, docs/hibernate.md): a
// session that has been in IDLE for Options.HibernateAfter with nothing to
// send exports the little state it needs to go on (the IDLE tag, what the
// client enabled, and the client's view of the selected mailbox: its UIDs,
// HIGHESTMODSEQ, \Recent and the saved search result) and hands it with
// the connection to Options.Hibernate. Resume rebuilds the session from
// that state in any later process and continues the IDLE, first sending
// what changed meanwhile, as if the session had never left.

// ErrHibernated is returned by Serve and Resume when the session left the
// process through Options.Hibernate; the connection is no longer theirs.
var ErrHibernated = errors.New("imap: session hibernated")

// changeNotifier is a Store that gives a descriptor which becomes readable
// when a mailbox may have changed, usable by a process without access to
// the mail (maildir: an inotify instance watching new/ and cur/).
type changeNotifier interface {
	ChangeNotifier(mailbox string) (*os.File, error)
}

// cannotHibernate says why the session cannot hibernate now, or "". It
// runs while IDLE's reader is active: the input buffer is checked once
// the reader has stopped.
func (s *session) cannotHibernate() string {
	switch {
	case s.fw != nil:
		// The compressor's state cannot move between processes.
		return "compression active"
	case s.shuttingDown():
		return "shutting down"
	case s.notify != nil || s.hasUpdateContexts():
		// NOTIFY's and CONTEXT's state stays in the process.
		return "NOTIFY or search updates active"
	case s.mbox != nil:
		if _, ok := s.o.Store.(changeNotifier); !ok {
			return "the store cannot notify of changes"
		}
	}
	return ""
}

// tryHibernate hands the idling session to Options.Hibernate. finished
// reports that it did; otherwise the IDLE goes on, and rd is set when the
// client's input (or a read error) arrived meanwhile and ends it.
func (s *session) tryHibernate(c *command, r *idleReader, deadline time.Time) (rd *idleRead, finished bool) {
	if why := s.cannotHibernate(); why != "" {
		s.log.Debug("not hibernating", "reason", why)
		return nil, false
	}
	// The notification descriptor comes first: a change after it is
	// set up wakes the hibernated session, one before it is sent now.
	notify, err := s.notifyFile()
	if err != nil {
		s.log.Debug("not hibernating", "reason", "no change notification", "err", err)
		return nil, false
	}
	if s.mbox != nil {
		s.sync(true)
	}
	if s.w.Buffered() > 0 {
		notify.Close()
		return nil, false
	}
	got := r.halt()
	restart := func() (*idleRead, bool) {
		if !s.armRead(time.Until(deadline)) {
			return &idleRead{err: os.ErrDeadlineExceeded}, false
		}
		r.start()
		return nil, false
	}
	if !got.stopped {
		notify.Close()
		return &got, false
	}
	if got.err == nil || s.cr.r.Buffered() > 0 {
		// Input arrived as the reader stopped: stay.
		notify.Close()
		return restart()
	}
	if !errors.Is(got.err, os.ErrDeadlineExceeded) || s.shuttingDown() {
		notify.Close()
		return &idleRead{err: got.err}, false
	}
	state, err := s.exportState(c.tag)
	if err != nil {
		notify.Close()
	} else {
		err = s.o.Hibernate(state, notify)
	}
	if err != nil {
		s.log.Debug("hibernation failed, staying", "err", err)
		return restart()
	}
	s.log.Debug("hibernated", "state_bytes", len(state))
	s.hibernated = true
	c.abort = true
	return nil, true
}

// notifyFile returns the change-notification descriptor for the
// hibernated session: the store's for the selected mailbox, or an eventfd
// nobody writes when none is selected.
func (s *session) notifyFile() (*os.File, error) {
	if s.mbox == nil {
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			return nil, fmt.Errorf("eventfd: %w", err)
		}
		return os.NewFile(uintptr(fd), "eventfd"), nil
	}
	n, ok := s.o.Store.(changeNotifier)
	if !ok {
		return nil, errors.New("the store cannot notify of changes")
	}
	return n.ChangeNotifier(s.mbox.Name())
}

// resumeState is what a hibernated session keeps.
type resumeState struct {
	tag  string // the IDLE command's
	mode modes
	// The selected mailbox, "" when none, as the client knows it.
	mailbox       string
	readOnly      bool
	uidValidity   uint32
	highestModSeq uint64
	uids          []uint32 // the messages the client knows, ascending
	recent        []uint32 // those of them with \Recent for the session
	saved         []uint32 // the saved search result (RFC 5182)
	flags         []string // the FLAGS the client was told
}

// exportState encodes the session's state for Resume.
func (s *session) exportState(tag string) ([]byte, error) {
	st := resumeState{tag: tag, mode: s.mode}
	if s.mbox != nil {
		status, err := s.mbox.Status()
		if err != nil {
			return nil, err
		}
		v := s.view
		if len(v.gone) > 0 {
			return nil, errors.New("expunges not yet sent")
		}
		st.mailbox, st.readOnly = s.mbox.Name(), s.mbox.ReadOnly()
		st.uidValidity, st.highestModSeq = status.UIDValidity, v.highestModSeq
		st.uids = make([]uint32, len(v.msgs))
		for i, m := range v.msgs {
			st.uids[i] = m.UID
			if m.Recent {
				st.recent = append(st.recent, m.UID)
			}
		}
		st.saved, st.flags = v.saved, v.flags
	}
	b := st.encode()
	if len(b) > maxStateBytes {
		return nil, fmt.Errorf("state of %d bytes", len(b))
	}
	return b, nil
}

// Limits of an exported state.
const (
	stateVersion  = 1
	maxStateBytes = 64 << 10 // proto.MaxHibernateState
	// maxResumeUIDs bounds the messages a state may name once its UID
	// ranges are expanded.
	maxResumeUIDs = 1 << 22
	maxStateFlags = 1024
	maxStateStr   = 16 << 10
)

func (m modes) bits() uint64 {
	var b uint64
	for i, on := range []bool{m.condstore, m.qresync, m.utf8, m.rev2} {
		if on {
			b |= 1 << i
		}
	}
	return b
}

func modesOf(b uint64) modes {
	return modes{condstore: b&1 != 0, qresync: b&2 != 0, utf8: b&4 != 0, rev2: b&8 != 0}
}

func (st *resumeState) encode() []byte {
	b := []byte{stateVersion}
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(st.tag)
	b = binary.AppendUvarint(b, st.mode.bits())
	if st.mailbox == "" {
		return append(b, 0)
	}
	b = append(b, 1)
	str(st.mailbox)
	if st.readOnly {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(st.uidValidity))
	b = binary.AppendUvarint(b, st.highestModSeq)
	for _, set := range [][]uint32{st.uids, st.recent, st.saved} {
		b = appendUIDRanges(b, set)
	}
	b = binary.AppendUvarint(b, uint64(len(st.flags)))
	for _, f := range st.flags {
		str(f)
	}
	return b
}

// appendUIDRanges encodes ascending UIDs as runs: the count of runs, then
// for each the gap from the previous run's end and the run's length - 1.
func appendUIDRanges(b []byte, uids []uint32) []byte {
	var runs [][2]uint32
	for _, u := range uids {
		if n := len(runs); n > 0 && runs[n-1][1]+1 == u {
			runs[n-1][1] = u
			continue
		}
		runs = append(runs, [2]uint32{u, u})
	}
	b = binary.AppendUvarint(b, uint64(len(runs)))
	var prev uint32
	for _, r := range runs {
		b = binary.AppendUvarint(b, uint64(r[0]-prev))
		b = binary.AppendUvarint(b, uint64(r[1]-r[0]))
		prev = r[1]
	}
	return b
}

// stateDecoder reads an exported state with a sticky error.
type stateDecoder struct {
	b   []byte
	err error
}

func (d *stateDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("resume state: "+format, args...)
	}
}

func (d *stateDecoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *stateDecoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *stateDecoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bad boolean")
	return false
}

func (d *stateDecoder) str() string {
	n := d.uint()
	if d.err != nil {
		return ""
	}
	if n > maxStateStr || n > uint64(len(d.b)) {
		d.fail("string of %d bytes", n)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// uids decodes appendUIDRanges' runs; total counts UIDs across calls.
func (d *stateDecoder) uids(total *int) []uint32 {
	runs := d.uint()
	if d.err == nil && runs > uint64(len(d.b)) {
		d.fail("%d runs", runs)
	}
	var out []uint32
	var prev uint64
	for i := uint64(0); i < runs && d.err == nil; i++ {
		start := prev + d.uint()
		end := start + d.uint()
		if d.err != nil {
			break
		}
		if start == 0 || (i > 0 && start <= prev+1) || end > math.MaxUint32 || end < start {
			d.fail("bad UID run")
			break
		}
		if *total += int(end - start + 1); *total > maxResumeUIDs {
			d.fail("over %d UIDs", maxResumeUIDs)
			break
		}
		for u := start; u <= end; u++ {
			out = append(out, uint32(u))
		}
		prev = end
	}
	return out
}

func decodeState(b []byte) (*resumeState, error) {
	if len(b) > maxStateBytes {
		return nil, fmt.Errorf("resume state of %d bytes", len(b))
	}
	d := &stateDecoder{b: b}
	if v := d.byte(); d.err == nil && v != stateVersion {
		return nil, fmt.Errorf("resume state version %d, want %d", v, stateVersion)
	}
	st := &resumeState{}
	st.tag = d.str()
	bits := d.uint()
	if bits > 15 {
		d.fail("unknown modes %#x", bits)
	}
	st.mode = modesOf(bits)
	if d.bool() {
		st.mailbox = d.str()
		if d.err == nil && st.mailbox == "" {
			d.fail("empty mailbox name")
		}
		st.readOnly = d.bool()
		uv := d.uint()
		if uv > math.MaxUint32 {
			d.fail("UIDVALIDITY %d", uv)
		}
		st.uidValidity = uint32(uv)
		st.highestModSeq = d.uint()
		total := 0
		st.uids = d.uids(&total)
		st.recent = d.uids(&total)
		st.saved = d.uids(&total)
		n := d.uint()
		if n > maxStateFlags {
			d.fail("%d flags", n)
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			st.flags = append(st.flags, d.str())
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err == nil && st.tag == "" {
		d.fail("no tag")
	}
	if d.err != nil {
		return nil, d.err
	}
	return st, nil
}
