package imap

import (
	"bytes"
	"errors"
	"time"
)

// cmdIdle: RFC 2177. The store's change hints wake the session, which
// polls the selected mailbox and sends what changed; "* OK Still here"
// keeps NAT state alive (Dovecot's imap_idle_notify_interval).
func (s *session) cmdIdle(c *command) error {
	c.p.end()
	if c.p.err != nil {
		return c.p.err
	}
	s.writeLine("+ idling")
	return s.idle(c)
}

// idleRead is what IDLE's reader goroutine saw.
type idleRead struct {
	line []byte
	err  error
	// stopped: the reader was asked to stop (for hibernation) and
	// consumed nothing; err is what interrupted it.
	stopped bool
}

// idle runs an IDLE after its continuation request: for a new IDLE, or
// for one that comes back from hibernation (Resume).
func (s *session) idle(c *command) error {
	watch, stop := s.o.Store.Watch()
	defer stop()
	if s.mbox != nil {
		s.sync(true)
	}
	if err := s.flush(); err != nil {
		c.abort = true
		return nil
	}

	deadline := time.Now().Add(autologoutTimeout)
	if !s.armRead(autologoutTimeout) {
		// Shutdown began while "+ idling" was on its way.
		c.abort = true
		return s.bye("Server shutting down.")
	}
	done := make(chan idleRead, 1)
	r := &idleReader{s: s, done: done}
	r.start()

	var tick <-chan time.Time
	if s.o.IdleNotify > 0 {
		t := time.NewTicker(s.o.IdleNotify)
		defer t.Stop()
		tick = t.C
	}
	var hibernate <-chan time.Time
	var hibTimer *time.Timer
	if s.o.HibernateAfter > 0 && s.o.Hibernate != nil {
		hibTimer = time.NewTimer(s.o.HibernateAfter)
		defer hibTimer.Stop()
		hibernate = hibTimer.C
	}
	for {
		select {
		case rd := <-done:
			return s.idleInput(c, rd)
		case _, ok := <-watch:
			if !ok {
				watch = nil // the store closed
			} else if s.mbox != nil && s.notify == nil {
				s.sync(true)
			}
		case <-s.notifyReady():
			// RFC 5465 section 4: what NOTIFY asked for.
			s.notifyDeliver(false, true)
		case <-tick:
			s.writeLine("* OK Still here")
		case <-hibernate:
			rd, finished := s.tryHibernate(c, r, deadline)
			if finished {
				return nil
			}
			if rd != nil {
				return s.idleInput(c, *rd)
			}
			hibTimer.Reset(s.o.HibernateAfter)
		}
		if hibTimer != nil && s.w.Buffered() > 0 {
			// Output resets the hibernation timer: only a quiet
			// session moves out.
			hibTimer.Reset(s.o.HibernateAfter)
		}
		if err := s.flush(); err != nil {
			s.log.Debug("write during IDLE failed", "err", err)
		}
	}
}

// idleInput ends an IDLE with what the client sent: DONE, or anything
// else (RFC 2177: "BAD Expected DONE").
func (s *session) idleInput(c *command, r idleRead) error {
	if errors.Is(r.err, errLineTooLong) {
		return errBad("Expected DONE.")
	}
	if r.err != nil {
		done, err := s.readFailed(r.line, r.err)
		if done {
			c.abort = true
			return err
		}
		return errBad("Expected DONE.")
	}
	if !equalFoldASCII(string(r.line), "DONE") {
		return errBad("Expected DONE.")
	}
	c.ok("", "Idle completed.")
	return nil
}

// idleReader reads the client's line during IDLE in a goroutine. It waits
// for input without consuming it first, so that it can be stopped with no
// byte lost when the session hibernates.
type idleReader struct {
	s    *session
	done chan idleRead
	// stop is set (under s.mu) before the read deadline is moved to now
	// to stop the reader for hibernation; reading is set once input
	// arrived and the reader consumes a line, which is then not
	// interrupted.
	stop, reading bool
}

func (r *idleReader) start() {
	s := r.s
	s.readers.Add(1)
	go func() {
		defer s.readers.Done()
		_, err := s.cr.r.Peek(1)
		s.mu.Lock()
		stopped := r.stop
		r.reading = !stopped && err == nil
		s.mu.Unlock()
		if stopped {
			r.done <- idleRead{err: err, stopped: true}
			return
		}
		if err != nil {
			r.done <- idleRead{err: err}
			return
		}
		line, err := s.cr.readLine()
		r.done <- idleRead{line: bytes.Clone(line), err: err}
	}()
}

// halt stops the reader and returns what it saw.
func (r *idleReader) halt() idleRead {
	s := r.s
	s.mu.Lock()
	r.stop = true
	if !r.reading {
		s.conn.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	rd := <-r.done
	s.mu.Lock()
	r.stop, r.reading = false, false
	s.mu.Unlock()
	return rd
}
