package auth

import (
	"hash/crc32"
	"net/netip"
	"sync"
	"time"
)

// Penalty schedule, as Dovecot's auth-penalty.c: after a failure from an
// address the next request from it waits init·2^penalty, at most max;
// the penalty goes up to maxPenalty steps and is forgotten after timeout.
const (
	penaltyInit       = 2 * time.Second
	penaltyMax        = 15 * time.Second
	penaltyMaxSteps   = 4
	penaltyTimeout    = penaltyInit + 4*time.Second + 8*time.Second + penaltyMax // AUTH_PENALTY_TIMEOUT, 29 s
	penaltyChecksums  = 8                                                        // recent wrong passwords remembered per address
	penaltyTableLimit = 1 << 16                                                  // addresses tracked at most
)

// penaltyTable is the brute-force penalty per source address (what
// Dovecot keeps in anvil): IPv4 addresses one by one, IPv6 by /48.
type penaltyTable struct {
	now                   func() time.Time
	init, max, timeout    time.Duration
	mu                    sync.Mutex // guards m
	m                     map[netip.Prefix]*penaltyEntry
	maxSteps, maxAdresses int
}

type penaltyEntry struct {
	penalty int
	last    time.Time
	sums    []uint32 // checksums of recent failures, newest last
}

func newPenaltyTable(now func() time.Time) *penaltyTable {
	return &penaltyTable{now: now, init: penaltyInit, max: penaltyMax, timeout: penaltyTimeout,
		maxSteps: penaltyMaxSteps, maxAdresses: penaltyTableLimit, m: map[netip.Prefix]*penaltyEntry{}}
}

// penaltyKey masks an address to what one attacker controls: an IPv4
// address, an IPv6 /48. ok is false for a missing or bad address.
func penaltyKey(ip string) (netip.Prefix, bool) {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap().WithZone("")
	bits := 32
	if a.Is6() {
		bits = 48
	}
	p, err := a.Prefix(bits)
	return p, err == nil
}

// secs is auth_penalty_to_secs: init·2^penalty, capped.
func (t *penaltyTable) secs(penalty int) time.Duration {
	d := t.init
	for range penalty {
		d *= 2
		if d >= t.max {
			return t.max
		}
	}
	return d
}

// get returns the live entry for key, dropping an expired one. t.mu held.
func (t *penaltyTable) get(key netip.Prefix, now time.Time) *penaltyEntry {
	e := t.m[key]
	if e != nil && now.Sub(e.last) > t.timeout {
		delete(t.m, key)
		return nil
	}
	return e
}

// Delay is how long a new request from ip waits before it is handled:
// the penalty's delay minus the time since the last failure.
func (t *penaltyTable) Delay(ip string) time.Duration {
	key, ok := penaltyKey(ip)
	if !ok {
		return 0
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.get(key, now)
	if e == nil || e.penalty == 0 {
		return 0
	}
	return max(0, t.secs(e.penalty)-now.Sub(e.last))
}

// Penalty returns the current penalty step of ip, for tests and logs.
func (t *penaltyTable) Penalty(ip string) int {
	key, ok := penaltyKey(ip)
	if !ok {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.get(key, t.now()); e != nil {
		return e.penalty
	}
	return 0
}

// Failure raises the penalty of ip, unless checksum (of the password
// and user) is one it already failed with recently: a client retrying
// the same wrong password is no attacker. A checksum of 0 is unknown and
// always counts.
func (t *penaltyTable) Failure(ip string, checksum uint32) {
	key, ok := penaltyKey(ip)
	if !ok {
		return
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.get(key, now)
	if e == nil {
		if len(t.m) >= t.maxAdresses {
			t.expire(now)
			if len(t.m) >= t.maxAdresses {
				return
			}
		}
		e = &penaltyEntry{}
		t.m[key] = e
	}
	e.last = now
	if checksum != 0 {
		for _, s := range e.sums {
			if s == checksum {
				return
			}
		}
		if len(e.sums) == penaltyChecksums {
			e.sums = e.sums[1:]
		}
		e.sums = append(e.sums, checksum)
	}
	if e.penalty < t.maxSteps {
		e.penalty++
	}
}

// Success forgets ip's penalty.
func (t *penaltyTable) Success(ip string) {
	if key, ok := penaltyKey(ip); ok {
		t.mu.Lock()
		delete(t.m, key)
		t.mu.Unlock()
	}
}

// expire drops timed-out entries. t.mu held.
func (t *penaltyTable) expire(now time.Time) {
	for k, e := range t.m {
		if now.Sub(e.last) > t.timeout {
			delete(t.m, k)
		}
	}
}

// penaltyChecksum is Dovecot's crc32 of the password continued with
// the user.
func penaltyChecksum(password, user string) uint32 {
	c := crc32.ChecksumIEEE([]byte(password))
	c = crc32.Update(c, crc32.IEEETable, []byte(user))
	if c == 0 {
		c = 1
	}
	return c
}
