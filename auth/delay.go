package auth

import (
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"
)

// delayQueue holds failure replies until FailureDelay after their request
// started (auth_failure_delay, src/auth/auth-request-handler.c). One
// goroutine checks the queue on a ticker and sends what is due; each batch
// is shuffled so that the order of replies tells parallel attackers
// nothing. Nothing here blocks a connection: a request that fails just
// hands its reply over.
type delayQueue struct {
	delay time.Duration
	now   func() time.Time

	mu      sync.Mutex // guards items and stopped
	items   []delayed
	stopped bool

	stop chan struct{}
	done chan struct{}
}

type delayed struct {
	at   time.Time
	send func()
}

func newDelayQueue(delay time.Duration, now func() time.Time) *delayQueue {
	q := &delayQueue{delay: delay, now: now, stop: make(chan struct{}), done: make(chan struct{})}
	if delay <= 0 {
		close(q.done)
		return q
	}
	// Dovecot checks every 500ms; a shorter delay needs a finer tick.
	tick := min(500*time.Millisecond, max(delay/8, 5*time.Millisecond))
	go q.loop(tick)
	return q
}

// add queues send to run at started+delay; with no delay it runs now.
func (q *delayQueue) add(started time.Time, send func()) {
	if q.delay <= 0 {
		send()
		return
	}
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return
	}
	q.items = append(q.items, delayed{at: started.Add(q.delay), send: send})
	q.mu.Unlock()
}

func (q *delayQueue) loop(tick time.Duration) {
	defer close(q.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-q.stop:
			return
		case <-t.C:
		}
		now := q.now()
		q.mu.Lock()
		var due []delayed
		kept := q.items[:0]
		for _, d := range q.items {
			if !d.at.After(now) {
				due = append(due, d)
			} else {
				kept = append(kept, d)
			}
		}
		clear(q.items[len(kept):])
		q.items = kept
		q.mu.Unlock()
		rand.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
		for _, d := range due {
			d.send()
		}
	}
}

// close stops the queue; replies still held are dropped with their
// connections.
func (q *delayQueue) close() {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return
	}
	q.stopped = true
	q.items = nil
	q.mu.Unlock()
	if q.delay > 0 {
		close(q.stop)
	}
	<-q.done
}

func stack() string { return string(debug.Stack()) }
