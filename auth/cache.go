package auth

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"cote/auth/passdb"
	"cote/auth/scheme"
	"cote/auth/varexpand"
)

// Cache defaults (auth_cache_ttl, auth_cache_negative_ttl).
const (
	DefaultCacheTTL         = time.Hour
	DefaultCacheNegativeTTL = time.Hour
)

// passCache is the auth cache for passdb lookups (src/auth/auth-cache.c,
// passdb-cache.c): an LRU bounded by an estimate of its size in bytes.
// Positive entries live for ttl, "user unknown" entries for negTTL.
type passCache struct {
	now         func() time.Time
	ttl, negTTL time.Duration
	limit       int64

	mu           sync.Mutex // guards the fields below
	used         int64
	lru          *list.List // of *cacheEntry, most recent first
	m            map[cacheKey]*list.Element
	hits, misses uint64
}

// cacheKey: which passdb (index; master passdbs negative) and what the
// lookup depended on.
type cacheKey struct {
	db            int
	user, service string
}

type cacheEntry struct {
	key     cacheKey
	created time.Time
	found   bool          // false: the user is unknown
	res     passdb.Result // for verify-only passdbs, Password is a hash the cache made
	// made: res.Password is a hash the cache made of a password a
	// verify-only passdb accepted; it is good for checking passwords,
	// not for a lookup.
	made bool
	// lastSuccess: the last password checked against this entry was
	// right; a wrong one then means the password may have changed.
	lastSuccess bool
}

func newPassCache(limit int64, ttl, negTTL time.Duration, now func() time.Time) *passCache {
	if limit <= 0 {
		return nil
	}
	return &passCache{now: now, ttl: ttl, negTTL: negTTL, limit: limit, lru: list.New(), m: map[cacheKey]*list.Element{}}
}

func (e *cacheEntry) size() int64 {
	n := int64(len(e.key.user) + len(e.key.service) + len(e.res.Password) + len(e.res.User) + 64)
	for _, f := range e.res.Fields {
		n += int64(len(f)) + 16
	}
	return n
}

// get returns a copy of the entry for k. fresh is false for an entry past
// its TTL, which is used only when the passdb fails.
func (c *passCache) get(k cacheKey) (e cacheEntry, fresh, ok bool) {
	if c == nil {
		return cacheEntry{}, false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[k]
	if !ok {
		c.misses++
		return cacheEntry{}, false, false
	}
	c.lru.MoveToFront(el)
	ce := el.Value.(*cacheEntry)
	ttl := c.ttl
	if !ce.found {
		ttl = c.negTTL
	}
	fresh = c.now().Sub(ce.created) <= ttl
	if fresh {
		c.hits++
	} else {
		c.misses++
	}
	return *ce, fresh, true
}

// negExpired reports whether e is older than the negative TTL: then even
// a cached positive entry is not trusted to refuse a password.
func (c *passCache) negExpired(e cacheEntry) bool {
	return c.now().Sub(e.created) > c.negTTL
}

// put stores an entry, evicting the least recently used ones to fit.
func (c *passCache) put(k cacheKey, found bool, res passdb.Result, success, made bool) {
	if c == nil {
		return
	}
	res.Fields = append([]string(nil), res.Fields...)
	e := &cacheEntry{key: k, created: c.now(), found: found, res: res, lastSuccess: success, made: made}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[k]; ok {
		c.remove(old)
	}
	if e.size() > c.limit {
		return
	}
	c.m[k] = c.lru.PushFront(e)
	c.used += e.size()
	for c.used > c.limit {
		c.remove(c.lru.Back())
	}
}

// setLastSuccess records the outcome of a password checked against k.
func (c *passCache) setLastSuccess(k cacheKey, success bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if el, ok := c.m[k]; ok {
		el.Value.(*cacheEntry).lastSuccess = success
	}
	c.mu.Unlock()
}

func (c *passCache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.m, e.key)
	c.used -= e.size()
}

// flush drops the entries of the given users, or every entry when none
// is given, and says how many it dropped (CACHE-FLUSH).
func (c *passCache) flush(users []string) int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(users) == 0 {
		n := len(c.m)
		c.lru.Init()
		clear(c.m)
		c.used = 0
		return n
	}
	want := map[string]bool{}
	for _, u := range users {
		want[u] = true
	}
	n := 0
	for k, el := range c.m {
		if want[k.user] {
			c.remove(el)
			n++
		}
	}
	return n
}

// stats returns the hit and miss counts.
func (c *passCache) stats() (hits, misses uint64, entries int) {
	if c == nil {
		return 0, 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses, len(c.m)
}

// cachedPassdb puts one passdb behind the auth cache. It is a
// passwordVerifier, so that a password checked against a cached entry
// can follow passdb-cache.c's rule: a wrong password against an entry
// whose last check succeeded (or that is older than the negative TTL)
// may mean the password changed, and goes to the passdb itself.
type cachedPassdb struct {
	d   passdbDriver
	idx int
	s   *Server
}

func (cp *cachedPassdb) key(v varexpand.Values) cacheKey {
	return cacheKey{db: cp.idx, user: v.User, service: v.Service}
}

// Lookup answers from a fresh entry, or asks the passdb and remembers
// the answer; when the passdb fails, an expired entry still answers.
func (cp *cachedPassdb) Lookup(ctx context.Context, v varexpand.Values) (passdb.Result, error) {
	c := cp.s.cache
	key := cp.key(v)
	e, fresh, cached := c.get(key)
	if cached && fresh && !e.made {
		if !e.found {
			return passdb.Result{}, passdb.ErrNotFound
		}
		return e.res, nil
	}
	r, err := cp.d.Lookup(ctx, v)
	switch {
	case err == nil:
		c.put(key, true, r, false, false)
	case errors.Is(err, passdb.ErrNotFound):
		c.put(key, false, passdb.Result{}, false, false)
	case errors.Is(err, passdb.ErrNoLookup):
	case cached && e.found && !e.made:
		cp.s.log.Warn("passdb failed, answering from an expired cache entry", "user", v.User, "err", err)
		return e.res, nil
	}
	return r, err
}

// VerifyPassword implements passwordVerifier.
func (cp *cachedPassdb) VerifyPassword(ctx context.Context, v varexpand.Values, password string) (passdb.Result, bool, error) {
	c := cp.s.cache
	key := cp.key(v)
	e, fresh, cached := c.get(key)
	if cached && fresh {
		if !e.found {
			return passdb.Result{}, false, passdb.ErrNotFound
		}
		if cp.s.matches(v.User, e.res, password) {
			c.setLastSuccess(key, true)
			return e.res, true, nil
		}
		if !e.lastSuccess && !c.negExpired(e) {
			return e.res, false, nil
		}
		c.setLastSuccess(key, false)
	}
	if pv, ok := cp.d.(passwordVerifier); ok {
		r, ok, err := pv.VerifyPassword(ctx, v, password)
		switch {
		case err == nil && ok:
			stored := r
			if h, herr := scheme.Generate("SSHA256", password); herr == nil {
				stored.Password, stored.DefaultScheme = h, ""
				c.put(key, true, stored, true, true)
			}
		case errors.Is(err, passdb.ErrNotFound):
			c.put(key, false, passdb.Result{}, false, false)
		case err != nil && cached && e.found && cp.s.matches(v.User, e.res, password):
			cp.s.log.Warn("passdb failed, answering from an expired cache entry", "user", v.User, "err", err)
			return e.res, true, nil
		}
		return r, ok, err
	}
	r, err := cp.d.Lookup(ctx, v)
	switch {
	case errors.Is(err, passdb.ErrNotFound):
		c.put(key, false, passdb.Result{}, false, false)
		return r, false, err
	case err != nil && cached && e.found && !e.made:
		cp.s.log.Warn("passdb failed, answering from an expired cache entry", "user", v.User, "err", err)
		r = e.res
	case err != nil:
		return r, false, err
	}
	ok := cp.s.matches(v.User, r, password)
	c.put(key, true, r, ok, false)
	return r, ok, nil
}

// Close closes the passdb behind the cache.
func (cp *cachedPassdb) Close() error {
	if c, ok := cp.d.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// matches verifies a password against a passdb entry; it logs why it
// refused, never the password or the stored hash.
func (s *Server) matches(user string, r passdb.Result, password string) bool {
	if hasField(r.Fields, "nopassword") {
		return true
	}
	if r.Password == "" {
		s.log.Info("passdb entry has no password", "user", user)
		return false
	}
	ok, err := scheme.Verify(r.Password, password, r.DefaultScheme)
	if err != nil {
		s.log.Error("stored password unusable", "user", user, "err", err)
		return false
	}
	return ok
}
