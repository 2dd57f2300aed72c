package pop3

import (
	"bufio"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"cote/storage"
)

// execute runs one command. done ends the session; ok is false for a
// command that failed in a way that counts as bad; err ends the session
// without a further reply (the connection is unusable).
func (s *session) execute(cmd command) (done, ok bool, err error) {
	switch cmd.name {
	case "CAPA":
		s.cmdCapa()
		return false, true, nil
	case "STAT":
		s.cmdStat()
		return false, true, nil
	case "LIST":
		return false, s.cmdList(cmd), nil
	case "RETR":
		ok, err = s.cmdRetr(cmd)
		return false, ok, err
	case "TOP":
		ok, err = s.cmdTop(cmd)
		return false, ok, err
	case "DELE":
		return false, s.cmdDele(cmd), nil
	case "NOOP":
		// RFC 1939 section 5
		s.reply("+OK")
		return false, true, nil
	case "RSET":
		s.cmdRset()
		return false, true, nil
	case "UIDL":
		ok, err = s.cmdUIDL(cmd)
		return false, ok, err
	case "QUIT":
		return true, true, s.cmdQuit()
	}
	s.reply("-ERR Unknown command: " + sanitize(cmd.name))
	return false, false, nil
}

// sanitize makes client text safe to echo: printable ASCII, at most 40
// bytes (RFC 1939's argument limit).
func sanitize(s string) string {
	const max = 40
	var b strings.Builder
	for i := 0; i < len(s) && i < max; i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f {
			c = '?'
		}
		b.WriteByte(c)
	}
	if len(s) > max {
		b.WriteString("...")
	}
	return b.String()
}

// Capabilities returns the CAPA list of the TRANSACTION state (RFC 2449
// section 5), as Dovecot's pop3 has it plus the configured LOGIN-DELAY
// and EXPIRE and IMPLEMENTATION.
func Capabilities(o Options) []string {
	caps := []string{"CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"}
	if o.LoginDelay > 0 {
		caps = append(caps, "LOGIN-DELAY "+strconv.FormatInt(int64(o.LoginDelay/time.Second), 10))
	}
	if validExpire(o.Expire) {
		caps = append(caps, "EXPIRE "+o.Expire)
	}
	return append(caps, "IMPLEMENTATION cote")
}

// validExpire reports whether s is an RFC 2449 section 6.7 expire
// policy: a number of days or NEVER.
func validExpire(s string) bool {
	if s == "NEVER" {
		return true
	}
	_, ok, tooLarge := parseNumber(s)
	return ok && !tooLarge
}

// RFC 2449 section 5
func (s *session) cmdCapa() {
	s.reply("+OK")
	for _, c := range Capabilities(s.o) {
		s.reply(c)
	}
	s.reply(".")
}

// RFC 1939 section 5: the count and size of the messages not marked
// deleted.
func (s *session) cmdStat() {
	s.reply("+OK " + strconv.Itoa(len(s.msgs)-s.nDeleted) + " " + strconv.FormatInt(s.total-s.delSize, 10))
}

// message resolves a message-number argument. more says that another
// argument may follow; rest is it. Failures are answered here.
func (s *session) message(args string, more bool) (i int, rest string, ok bool) {
	arg, rest := splitArg(args)
	n, isNum, tooLarge := parseNumber(arg)
	switch {
	case arg == "" || arg[0] < '0' || arg[0] > '9':
		s.reply("-ERR Invalid message number: " + sanitize(arg))
		return 0, "", false
	case !isNum:
		s.reply("-ERR Noise after message number: " + sanitize(arg))
		return 0, "", false
	case tooLarge || n > math.MaxUint32:
		s.reply("-ERR Message number too large: " + sanitize(arg))
		return 0, "", false
	case !more && rest != "":
		s.reply("-ERR Noise after message number: " + sanitize(rest))
		return 0, "", false
	case n == 0 || n > uint64(len(s.msgs)):
		s.reply("-ERR There's no message " + strconv.FormatUint(n, 10) + ".")
		return 0, "", false
	case s.deleted[n-1]:
		s.reply("-ERR Message is deleted.")
		return 0, "", false
	}
	return int(n - 1), rest, true
}

// RFC 1939 section 5
func (s *session) cmdList(cmd command) bool {
	if cmd.args != "" {
		i, _, ok := s.message(cmd.args, false)
		if !ok {
			return false
		}
		s.reply("+OK " + strconv.Itoa(i+1) + " " + strconv.FormatInt(s.sizes[i], 10))
		return true
	}
	s.reply("+OK " + strconv.Itoa(len(s.msgs)-s.nDeleted) + " messages:")
	for i := range s.msgs {
		if !s.deleted[i] {
			s.reply(strconv.Itoa(i+1) + " " + strconv.FormatInt(s.sizes[i], 10))
		}
	}
	s.reply(".")
	return true
}

// RFC 1939 section 5. \Seen is set at the end of the session unless
// pop3_no_flag_updates.
func (s *session) cmdRetr(cmd command) (bool, error) {
	i, _, ok := s.message(cmd.args, false)
	if !ok {
		return false, nil
	}
	rc, good := s.openMessage(i)
	if rc == nil {
		return good, nil
	}
	defer rc.Close()
	s.reply("+OK " + strconv.FormatInt(s.sizes[i], 10) + " octets")
	if err := s.sendDotted(rc, -1); err != nil {
		s.log.Error("RETR failed while sending", "uid", s.msgs[i].UID, "err", err)
		return false, err
	}
	if !s.o.NoFlagUpdates && !hasFlag(s.msgs[i].Flags, storage.FlagSeen) {
		s.seen[i] = true
	}
	return true, nil
}

// RFC 1939 section 7: the header, the empty line, and n lines of the
// body. TOP sets no flags.
func (s *session) cmdTop(cmd command) (bool, error) {
	i, rest, ok := s.message(cmd.args, true)
	if !ok {
		return false, nil
	}
	arg, more := splitArg(rest)
	n, isNum, tooLarge := parseNumber(arg)
	switch {
	case arg == "" || arg[0] < '0' || arg[0] > '9':
		s.reply("-ERR Invalid size: " + sanitize(arg))
		return false, nil
	case !isNum || more != "":
		s.reply("-ERR Noise after size: " + sanitize(rest))
		return false, nil
	case tooLarge:
		s.reply("-ERR Size too large: " + sanitize(arg))
		return false, nil
	}
	rc, good := s.openMessage(i)
	if rc == nil {
		return good, nil
	}
	defer rc.Close()
	s.reply("+OK")
	if err := s.sendDotted(rc, int64(min(n, math.MaxInt64))); err != nil {
		s.log.Error("TOP failed while sending", "uid", s.msgs[i].UID, "err", err)
		return false, err
	}
	return true, nil
}

// openMessage opens message i. Failures are answered here, and good
// says whether the command still counts as a good one: a client that
// asks again for a message it was told is expunged gets a bad command,
// so that one looping on it is disconnected in the end (as in Dovecot).
func (s *session) openMessage(i int) (rc io.ReadCloser, good bool) {
	rc, err := s.mbox.Read(s.msgs[i].UID)
	if err == nil {
		return rc, true
	}
	if errors.Is(err, storage.ErrNoSuchMessage) {
		s.reply("-ERR Message " + strconv.Itoa(i+1) + " expunged.")
		good = i+1 > s.lastGone
		s.lastGone = max(s.lastGone, i+1)
		return nil, good
	}
	s.log.Error("read message", "uid", s.msgs[i].UID, "err", err)
	s.reply("-ERR " + textInternal)
	return nil, true
}

// sendDotted sends a message as a multi-line response (RFC 1939 section
// 3): CRLF line endings, a dot before every line that starts with one,
// and the terminating ".". lines < 0 sends it whole; otherwise the header
// and that many body lines (TOP). The message is streamed, never held in
// memory. An error leaves the response unfinished: the session must end.
func (s *session) sendDotted(r io.Reader, lines int64) error {
	dw := newDotWriter(s.w)
	var err error
	if lines < 0 {
		if s.copyBuf == nil {
			s.copyBuf = make([]byte, 32<<10)
		}
		_, err = io.CopyBuffer(dw, r, s.copyBuf)
	} else {
		err = copyTop(dw, r, lines)
	}
	if err != nil {
		return err
	}
	return dw.Close()
}

// copyTop copies the header, the empty line after it and n lines of the
// body.
func copyTop(w io.Writer, r io.Reader, n int64) error {
	br := bufio.NewReaderSize(r, 32<<10)
	inBody, atStart := false, true
	var lines int64
	for {
		if inBody && lines >= n {
			return nil
		}
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 {
			if _, werr := w.Write(frag); werr != nil {
				return werr
			}
			end := frag[len(frag)-1] == '\n'
			if end {
				if inBody {
					lines++
				} else if atStart && (len(frag) == 1 || (len(frag) == 2 && frag[0] == '\r')) {
					inBody = true
				}
			}
			atStart = end
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case err == io.EOF:
			return nil
		default:
			return err
		}
	}
}

// RFC 1939 section 5: DELE only marks; QUIT deletes.
func (s *session) cmdDele(cmd command) bool {
	i, _, ok := s.message(cmd.args, false)
	if !ok {
		return false
	}
	s.deleted[i] = true
	s.nDeleted++
	s.delSize += s.sizes[i]
	s.reply("+OK Marked to be deleted.")
	return true
}

// RFC 1939 section 5. Like Dovecot, RSET also forgets the \Seen flags
// RETR would have set.
func (s *session) cmdRset() {
	clear(s.deleted)
	clear(s.seen)
	s.nDeleted, s.delSize = 0, 0
	s.reply("+OK")
}

// RFC 1939 section 7
func (s *session) cmdUIDL(cmd command) (bool, error) {
	i := -1
	if cmd.args != "" {
		var ok bool
		if i, _, ok = s.message(cmd.args, false); !ok {
			return false, nil
		}
	}
	if err := s.computeUIDLs(); err != nil {
		s.log.Error("POP3 UIDLs couldn't be listed", "err", err)
		return false, s.fatal(textInternal)
	}
	if i >= 0 {
		s.reply("+OK " + strconv.Itoa(i+1) + " " + s.uidls[i])
		return true, nil
	}
	s.reply("+OK")
	for i := range s.msgs {
		if !s.deleted[i] {
			s.reply(strconv.Itoa(i+1) + " " + s.uidls[i])
		}
	}
	s.reply(".")
	return true, nil
}

// RFC 1939 section 6: the UPDATE state.
func (s *session) cmdQuit() error {
	err := s.update()
	if s.unlock != nil {
		// The maildrop is free before the client reads the answer, so
		// that its next session (a mail client that quits and logs in
		// again at once) does not find it in use.
		s.unlock()
	}
	if err != nil {
		s.log.Error("storage error during logout", "err", err)
		s.reply("-ERR " + textInternal)
		return err
	}
	if s.nDeleted == 0 {
		s.reply("+OK Logging out.")
	} else {
		s.reply("+OK Logging out, messages deleted.")
	}
	return nil
}

// update carries out the session's marks: \Seen on retrieved messages,
// then the deletion of the DELE'd ones as one store operation (expunge,
// or the deleted keyword). When the expunge fails, the \Deleted flags it
// set are taken back, so that nothing is half done.
func (s *session) update() error {
	if s.mbox.ReadOnly() {
		return nil
	}
	if err := s.flagSeen(); err != nil {
		return err
	}
	var del []uint32
	for i, m := range s.msgs {
		if s.deleted[i] {
			del = append(del, m.UID)
		}
	}
	if len(del) == 0 {
		return nil
	}
	if s.o.DeleteType == "flag" {
		if _, err := s.mbox.Store(del, storage.FlagsAdd, []string{s.o.DeletedFlag}, 0); err != nil {
			return err
		}
		return nil
	}
	res, err := s.mbox.Store(del, storage.FlagsAdd, []string{storage.FlagDeleted}, 0)
	if err != nil {
		return err
	}
	if _, err := s.mbox.Expunge(del); err != nil {
		var undo []uint32
		for _, m := range res.Changed {
			undo = append(undo, m.UID)
		}
		if len(undo) > 0 {
			if _, uerr := s.mbox.Store(undo, storage.FlagsRemove, []string{storage.FlagDeleted}, 0); uerr != nil {
				s.log.Error("taking back \\Deleted after a failed expunge", "err", uerr)
			}
		}
		return err
	}
	return nil
}

// flagSeen sets \Seen on the messages RETR sent, except those marked
// deleted, and forgets the marks.
func (s *session) flagSeen() error {
	if s.o.NoFlagUpdates || s.mbox.ReadOnly() {
		return nil
	}
	var uids []uint32
	for i, m := range s.msgs {
		if s.seen[i] && !s.deleted[i] {
			uids = append(uids, m.UID)
		}
	}
	clear(s.seen)
	if len(uids) == 0 {
		return nil
	}
	_, err := s.mbox.Store(uids, storage.FlagsAdd, []string{storage.FlagSeen}, 0)
	if err != nil {
		s.log.Error("set \\Seen", "err", err)
	}
	return err
}
