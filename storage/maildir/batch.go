package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"cote/storage"
	"cote/storage/index"
	"cote/storage/internal/mailstate"
)

// rangeGap splits a batch into separate index queries where the UIDs
// asked for are this far apart, so that a sparse set (the result of a
// SEARCH, the candidates of a header search) does not read every row
// between its ends: a row read in a range costs a few microseconds, a
// query of its own some tens.
const rangeGap = 32

// CachedBatch implements mailstate.BatchContentBackend: one index query
// per run of UIDs; messages without a cache row (delivered by another
// program) are parsed now, with a worker per CPU, and their rows written
// in one transaction.
func (s *store) CachedBatch(b *mailstate.Box, msgs []*mailstate.Msg) ([]storage.CachedResult, error) {
	return s.cachedBatch(b, msgs, 0, nil)
}

// CachedBatchEncoded implements mailstate.EncodeBatchBackend: CachedBatch
// that also encodes, with a worker per CPU, the structures it parses and
// those whose rows have no encoding of this version (when there are at
// least keepMin), and keeps the encodings in their rows. The rows of
// saved messages have none (the save does not know the engine's
// encoding); a few of them are left without, for the caller to encode.
func (s *store) CachedBatchEncoded(b *mailstate.Box, msgs []*mailstate.Msg, version byte, encode func(*storage.Part) []byte) ([]storage.CachedResult, error) {
	return s.cachedBatch(b, msgs, version, encode)
}

func (s *store) cachedBatch(b *mailstate.Box, msgs []*mailstate.Msg, version byte, encode func(*storage.Part) []byte) ([]storage.CachedResult, error) {
	mb := ext(b)
	out := make([]storage.CachedResult, len(msgs))
	for i, m := range msgs {
		out[i].UID = m.UID
	}
	if mb.row.ID != 0 {
		for start := 0; start < len(msgs); {
			end := start + 1
			for end < len(msgs) && msgs[end].UID-msgs[end-1].UID <= rangeGap {
				end++
			}
			i := start
			err := s.idx.CachedRange(mb.row.ID, msgs[start].UID, msgs[end-1].UID, func(uid uint32, c storage.Cached) {
				for i < end && msgs[i].UID < uid {
					i++
				}
				if i < end && msgs[i].UID == uid {
					out[i].Cached, out[i].OK = c, true
				}
			})
			if err != nil {
				return nil, err
			}
			start = end
		}
	}
	var miss, stale []int
	for i := range msgs {
		switch {
		case !out[i].OK:
			miss = append(miss, i)
		case encode != nil && (len(out[i].Cached.Wire) == 0 || out[i].Cached.Wire[0] != version):
			stale = append(stale, i)
		}
	}
	if len(stale) < keepMin {
		// A few rows (saved since the last large FETCH): not worth a
		// write transaction in this FETCH; the caller encodes them.
		stale = nil
	}
	if len(miss) == 0 && len(stale) == 0 {
		return out, nil
	}
	contents, err := s.parseMissing(b, msgs, miss, encode)
	if err != nil {
		return nil, err
	}
	fresh := make(map[uint32]*index.Content, len(miss)+len(stale))
	for k, i := range miss {
		if c := contents[k]; c != nil {
			out[i].Cached, out[i].OK = c.Cached, true
			fresh[msgs[i].UID] = c
		}
	}
	if len(stale) > 0 {
		if len(stale) >= burstMin {
			cpus.beginForeground()
			defer cpus.endForeground()
		}
		parallel(len(stale), func() func(int) {
			return func(k int) {
				c := &out[stale[k]].Cached
				c.Wire = encode(&c.Part)
			}
		})
		for _, i := range stale {
			fresh[msgs[i].UID] = &index.Content{Cached: out[i].Cached, TextLater: true}
		}
	}
	if len(fresh) > 0 {
		if err := s.putContent(b, fresh); err != nil {
			s.log.Warn("index cache", "mailbox", b.Name, "messages", len(fresh), "err", err)
		}
	}
	return out, nil
}

// parseMissing parses the structure of msgs[i] for each i of miss, with
// a worker per CPU, and encodes it when encode is not nil; the texts are
// left to the background indexer (Content.TextLater), as for a save.
// The result at k is nil for a message too large to parse or expunged
// by another program since the snapshot (the caller reads it alone and
// finds it gone).
func (s *store) parseMissing(b *mailstate.Box, msgs []*mailstate.Msg, miss []int, encode func(*storage.Part) []byte) ([]*index.Content, error) {
	if len(miss) == 0 {
		return nil, nil
	}
	mb := ext(b)
	paths := make([]string, len(miss))
	for k, i := range miss {
		paths[k] = filepath.Join(mb.dir, "cur", msgs[i].Ext.(*mmsg).name)
	}
	out := make([]*index.Content, len(miss))
	errs := make([]error, len(miss))
	if len(miss) >= burstMin {
		cpus.beginForeground()
		defer cpus.endForeground()
	}
	parallel(len(miss), func() func(int) {
		var r structureReader
		return func(k int) {
			// No session recovers a panic on this goroutine: it fails
			// the batch, and the caller reads the messages one by one.
			defer func() {
				if v := recover(); v != nil {
					out[k], errs[k] = nil, fmt.Errorf("parse %s: panic: %v", paths[k], v)
				}
			}()
			out[k], errs[k] = r.structure(paths[k])
			if out[k] != nil && encode != nil {
				out[k].Cached.Wire = encode(&out[k].Cached.Part)
			}
		}
	})
	var files map[string]string // cur/ listed once, when a file was renamed
	for k, err := range errs {
		if !os.IsNotExist(err) {
			continue
		}
		// Renamed by another program (its flags changed): find the file
		// by its base name.
		if files == nil {
			var lerr error
			if files, lerr = s.listCur(mb); lerr != nil {
				return nil, ioErr(lerr)
			}
		}
		out[k], errs[k] = nil, nil
		if n, ok := files[baseName(msgs[miss[k]].Ext.(*mmsg).name)]; ok {
			out[k], errs[k] = structureOfFile(filepath.Join(mb.dir, "cur", n))
			if os.IsNotExist(errs[k]) {
				errs[k] = nil
			}
			if out[k] != nil && encode != nil {
				out[k].Cached.Wire = encode(&out[k].Cached.Part)
			}
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, ioErr(err)
		}
	}
	return out, nil
}

// parallel calls fn(0) .. fn(n-1) on a worker per CPU and returns when
// all are done; each worker gets its fn from worker().
func parallel(n int, worker func() func(int)) {
	w := min(workers(), n)
	if w <= 1 {
		fn := worker()
		for k := range n {
			fn(k)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn := worker()
			for k := int(next.Add(1) - 1); k < n; k = int(next.Add(1) - 1) {
				fn(k)
			}
		}()
	}
	wg.Wait()
}

// keepMin is how many cache rows without the encoding asked for make
// CachedBatchEncoded encode them and keep the encodings.
const keepMin = 64

// burstMin is how many messages to parse at once make it worth running
// Go code on every CPU for them.
const burstMin = 64

// cpuBurst raises GOMAXPROCS to workers() while large parses run, and
// sets it back after the last: the worker process runs with max_procs 1
// for its sessions (fewer scheduler wake-ups), but a first FETCH of a
// Maildir that came without an index parses thousands of messages, as
// an index rebuild does (which the worker also runs on every CPU).
//
// The parses a client waits for (a FETCH's, a SEARCH's) are foreground
// bursts: the background text indexer waits between messages while one
// runs (yield), so that it does not take half of the CPUs from them.
type cpuBurst struct {
	mu     sync.Mutex    // guards the fields below
	n      int           // parses running
	saved  int           // GOMAXPROCS before the first of them; 0: not raised
	fg     int           // foreground parses running
	fgDone chan struct{} // closed when the last of them ends
}

// cpus is process-wide because GOMAXPROCS is: two stores of one process
// (a test's) must not restore each other's value.
var cpus cpuBurst

func (c *cpuBurst) begin() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		c.saved = 0
		if want := workers(); runtime.GOMAXPROCS(0) < want {
			c.saved = runtime.GOMAXPROCS(want)
		}
	}
	c.n++
}

func (c *cpuBurst) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
	if c.n == 0 && c.saved > 0 {
		runtime.GOMAXPROCS(c.saved)
		c.saved = 0
	}
}

// beginForeground is begin for a parse a client waits for.
func (c *cpuBurst) beginForeground() {
	c.begin()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fg == 0 {
		c.fgDone = make(chan struct{})
	}
	c.fg++
}

func (c *cpuBurst) endForeground() {
	c.mu.Lock()
	c.fg--
	if c.fg == 0 {
		close(c.fgDone)
	}
	c.mu.Unlock()
	c.end()
}

// yieldPause is how long no foreground parse must have run for yield
// to return: a FETCH parses its messages in batches (512 at a time),
// with short gaps between them.
const yieldPause = 50 * time.Millisecond

// yield waits until no foreground parse has run for yieldPause, or stop
// is closed.
func (c *cpuBurst) yield(stop <-chan struct{}) {
	for {
		c.mu.Lock()
		fg, done := c.fg, c.fgDone
		c.mu.Unlock()
		if fg == 0 {
			return
		}
		select {
		case <-done:
		case <-stop:
			return
		}
		t := time.NewTimer(yieldPause)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return
		}
	}
}
