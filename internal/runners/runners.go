// Package runners runs short-lived work (a session, a delivery, an
// authentication step) on goroutines kept between uses.
//
// A new goroutine starts on a stack of a few kilobytes. The work of a
// session or a login grows it to tens of kilobytes (SQLite's frames are
// large, and so are the protocol parsers'), and each growth copies it
// to a stack twice the size: several copies for each session, delivery
// or login, 2% of the machine under imaptest's mix (docs/benchmarks.md).
// A kept goroutine keeps the stack it grew when the collector does not
// shrink it, so the master starts workers and auth with
// gcshrinkstackoff=1 (master/spawn.go): only the first uses pay. In the
// login processes, whose collector still shrinks stacks, a kept
// goroutine has lost at most a few halvings when its next client comes.
package runners

import "time"

// Pool runs functions on its goroutines. Make one with New.
type Pool struct {
	idle   chan func()
	linger time.Duration
}

// New returns a pool whose goroutines end after waiting linger for
// work.
func New(linger time.Duration) *Pool {
	return &Pool{idle: make(chan func()), linger: linger}
}

// Go runs f on a waiting goroutine of the pool, or on a new one when
// none waits.
func (p *Pool) Go(f func()) {
	select {
	case p.idle <- f:
	default:
		go p.loop(f)
	}
}

func (p *Pool) loop(f func()) {
	t := time.NewTimer(p.linger)
	defer t.Stop()
	for {
		f()
		f = nil
		t.Reset(p.linger)
		select {
		case f = <-p.idle:
		case <-t.C:
			return
		}
	}
}
