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
	watch, stop := s.o.Store.Watch()
	defer stop()
	s.writeLine("+ idling")
	if s.mbox != nil {
		s.sync(true)
	}
	if err := s.flush(); err != nil {
		c.abort = true
		return nil
	}

	type lineResult struct {
		line []byte
		err  error
	}
	done := make(chan lineResult, 1)
	if !s.armRead(autologoutTimeout) {
		// Shutdown began while "+ idling" was on its way.
		c.abort = true
		return s.bye("Server shutting down.")
	}
	s.readers.Add(1)
	go func() {
		defer s.readers.Done()
		line, err := s.cr.readLine()
		done <- lineResult{bytes.Clone(line), err}
	}()

	var tick <-chan time.Time
	if s.o.IdleNotify > 0 {
		t := time.NewTicker(s.o.IdleNotify)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case r := <-done:
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
		case _, ok := <-watch:
			if !ok {
				watch = nil // the store closed
			} else if s.mbox != nil {
				s.sync(true)
			}
		case <-tick:
			s.writeLine("* OK Still here")
		}
		if err := s.flush(); err != nil {
			s.log.Debug("write during IDLE failed", "err", err)
		}
	}
}
