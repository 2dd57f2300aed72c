package maildir

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

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
// a transaction per parseChunk messages, each while the next ones are
// parsed (cacheWriter).
func (s *store) CachedBatch(b *mailstate.Box, msgs []*mailstate.Msg) ([]storage.CachedResult, error) {
	return s.cachedBatch(b, msgs, 0, nil, false)
}

// CachedBatchEncoded implements mailstate.EncodeBatchBackend: CachedBatch
// that also encodes, with a worker per CPU, the structures it parses and
// those whose rows have no encoding of this version (when there are at
// least keepMin), and keeps the encodings in their rows. The rows of
// saved messages have none (the save does not know the engine's
// encoding); a few of them are left without, for the caller to encode.
func (s *store) CachedBatchEncoded(b *mailstate.Box, msgs []*mailstate.Msg, version byte, encode func(*storage.Part) []byte) ([]storage.CachedResult, error) {
	return s.cachedBatch(b, msgs, version, encode, false)
}

// CachedBatchWire implements mailstate.WireBatchBackend: CachedBatchEncoded
// where the rows whose encoding is of this version give only the
// encoding (index.CachedRangeWire).
func (s *store) CachedBatchWire(b *mailstate.Box, msgs []*mailstate.Msg, version byte, encode func(*storage.Part) []byte) ([]storage.CachedResult, error) {
	return s.cachedBatch(b, msgs, version, encode, true)
}

// cachedBatch serves the messages memCache has and asks the index
// (cachedBatchIndex) for the others; a small batch's results go into
// memCache, encoded first when encode is given and their rows have no
// encoding of this version (as the caller would encode them).
func (s *store) cachedBatch(b *mailstate.Box, msgs []*mailstate.Msg, version byte, encode func(*storage.Part) []byte, wireOnly bool) ([]storage.CachedResult, error) {
	wire := wireOnly && encode != nil
	out := make([]storage.CachedResult, len(msgs))
	var rest []*mailstate.Msg
	var at []int
	var hit []bool
	if len(msgs) < memFillMax {
		hit = make([]bool, len(msgs))
	}
	for i, m := range msgs {
		out[i].UID = m.UID
		// A large batch asks the index for the rows without an encoding
		// of this version: it encodes them and keeps the encodings there.
		if c, ok := s.mem.get(b, m.UID, wire, encode != nil && hit == nil, version); ok {
			out[i].Cached, out[i].OK = c, true
			if hit != nil {
				hit[i] = true
			}
			continue
		}
		rest = append(rest, m)
		at = append(at, i)
	}
	if len(rest) > 0 {
		res, err := s.cachedBatchIndex(b, rest, version, encode, wireOnly)
		if err != nil {
			return nil, err
		}
		for k, r := range res {
			out[at[k]] = r
		}
	}
	if hit == nil {
		return out, nil
	}
	for i := range out {
		r := &out[i]
		if !r.OK {
			continue
		}
		partless := wire && r.Cached.End == 0 && r.Cached.Header == nil && r.Cached.Children == nil
		current := len(r.Cached.Wire) > 0 && r.Cached.Wire[0] == version
		switch {
		case encode != nil && !current && !partless:
			if w := encode(&r.Cached.Part); w != nil {
				r.Cached.Wire = w
				s.mem.put(b, r.UID, r.Cached, false)
			}
		case !hit[i]:
			s.mem.put(b, r.UID, r.Cached, partless)
		}
	}
	return out, nil
}

// cachedBatchIndex is cachedBatch from the index alone.
func (s *store) cachedBatchIndex(b *mailstate.Box, msgs []*mailstate.Msg, version byte, encode func(*storage.Part) []byte, wireOnly bool) ([]storage.CachedResult, error) {
	mb := ext(b)
	if len(msgs) >= burstMin {
		// A client waits for this batch and the next: the background
		// indexer's workers (and their transactions, which hold the
		// mailbox lock this batch needs) wait until the FETCH is done.
		cpus.hold()
		defer cpus.release()
	}
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
			fn := func(uid uint32, c storage.Cached) {
				for i < end && msgs[i].UID < uid {
					i++
				}
				if i < end && msgs[i].UID == uid {
					out[i].Cached, out[i].OK = c, true
				}
			}
			var err error
			if wireOnly {
				err = s.idx.CachedRangeWire(mb.row.ID, msgs[start].UID, msgs[end-1].UID, version, fn)
			} else {
				err = s.idx.CachedRange(mb.row.ID, msgs[start].UID, msgs[end-1].UID, fn)
			}
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
	if len(miss)+len(stale) >= burstMin {
		cpus.beginForeground()
		defer cpus.endForeground()
	}
	// The index is written as the parse goes: the rows of one piece of
	// miss are written on another goroutine while the next piece is
	// parsed, so that the CPUs parsing do not wait for the serial
	// write (and the write holds no lock but this call's).
	w := cacheWriter{s: s, b: b}
	defer w.wait()
	for off := 0; off < len(miss); off += parseChunk {
		part := miss[off:min(off+parseChunk, len(miss))]
		contents, err := s.parseMissing(b, msgs, part, encode)
		if err != nil {
			return nil, err
		}
		fresh := make(map[uint32]*index.Content, len(part))
		for k, i := range part {
			if c := contents[k]; c != nil {
				out[i].Cached, out[i].OK = c.Cached, true
				fresh[msgs[i].UID] = c
			}
		}
		w.put(fresh)
	}
	if len(stale) > 0 {
		parallel(len(stale), func() func(int) {
			return func(k int) {
				c := &out[stale[k]].Cached
				c.Wire = encode(&c.Part)
			}
		})
		fresh := make(map[uint32]*index.Content, len(stale))
		for _, i := range stale {
			fresh[msgs[i].UID] = &index.Content{Cached: out[i].Cached, TextLater: true}
		}
		w.put(fresh)
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
	cur := filepath.Join(mb.dir, "cur")
	// The files are opened relative to cur/ (structureAt); without
	// the directory's descriptor, by their paths.
	dirfd, dir := unix.AT_FDCWD, ""
	if fd, err := ignoringEINTR(func() (int, error) {
		return unix.Open(cur, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}); err == nil {
		defer unix.Close(fd)
		dirfd, dir = fd, cur
	}
	name := func(k int) string {
		n := msgs[miss[k]].Ext.(*mmsg).name
		if dir == "" {
			return filepath.Join(cur, n)
		}
		return n
	}
	out := make([]*index.Content, len(miss))
	errs := make([]error, len(miss))
	// The readers' buffers serve the next call (a FETCH calls for a
	// piece of parseChunk messages at a time).
	var mu sync.Mutex
	var used []*structureReader
	defer func() {
		for _, r := range used {
			putReader(r)
		}
	}()
	parallel(len(miss), func() func(int) {
		r := readers.Get().(*structureReader)
		mu.Lock()
		used = append(used, r)
		mu.Unlock()
		return func(k int) {
			// No session recovers a panic on this goroutine: it fails
			// the batch, and the caller reads the messages one by one.
			defer func() {
				if v := recover(); v != nil {
					out[k], errs[k] = nil, fmt.Errorf("parse %s: panic: %v", filepath.Join(cur, msgs[miss[k]].Ext.(*mmsg).name), v)
				}
			}()
			size, vsize := msgs[miss[k]].Ext.(*mmsg).sizes()
			out[k], errs[k] = r.structureSized(dirfd, dir, name(k), size, vsize)
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

// readers keeps structureReaders, with their buffers, between the
// pieces of a large parse.
var readers = sync.Pool{New: func() any { return new(structureReader) }}

// readerKeep is the largest buffer a reader keeps in readers.
const readerKeep = 1 << 20

// putReader gives r back to readers, without a buffer over readerKeep,
// and asking for O_NOATIME again (the next files may be ours).
func putReader(r *structureReader) {
	r.atime.Store(false)
	if cap(r.buf) > readerKeep {
		r.buf = nil
	}
	if cap(r.crlf) > readerKeep {
		r.crlf = nil
	}
	readers.Put(r)
}

// parseChunk is how many messages CachedBatchEncoded parses before it
// writes their rows (while it parses the next ones).
const parseChunk = 128

// cacheWriter writes the cache rows of a CachedBatch, one transaction at
// a time, on a goroutine of its own. It lives within one call, under
// the State's lock, and its goroutine uses only the index.
type cacheWriter struct {
	s       *store
	b       *mailstate.Box
	rowID   int64         // the mailbox's row, once committed
	n       int           // rows written or being written
	done    chan struct{} // closed when the write in flight ends; nil: none
	err     error         // the last write's error; guarded by done
	stopped bool          // the mailbox could not be committed
}

// put waits for the write before and starts writing cs.
func (w *cacheWriter) put(cs map[uint32]*index.Content) {
	if len(cs) == 0 {
		return
	}
	w.wait()
	if w.rowID == 0 && !w.stopped {
		// The mailbox's pending rows first (a mailbox new to the
		// index gets its row), here, under the lock.
		if err := w.s.Commit(w.b); err != nil {
			w.s.log.Warn("index cache", "mailbox", w.b.Name, "err", err)
			w.stopped = true
		}
		w.rowID = ext(w.b).row.ID
	}
	if w.stopped || w.rowID == 0 {
		return
	}
	w.n = len(cs)
	w.done = make(chan struct{})
	go func() {
		defer close(w.done)
		defer func() {
			if v := recover(); v != nil {
				w.err = fmt.Errorf("panic: %v", v)
			}
		}()
		w.err = w.s.writeContents(w.rowID, cs)
	}()
}

// wait waits for the write in flight and logs its error.
func (w *cacheWriter) wait() {
	if w.done == nil {
		return
	}
	<-w.done
	w.done = nil
	if w.err != nil {
		w.s.log.Warn("index cache", "mailbox", w.b.Name, "messages", w.n, "err", w.err)
	}
}

// writeContents writes cache rows in one transaction.
func (s *store) writeContents(rowID int64, cs map[uint32]*index.Content) error {
	tx, err := s.idx.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	batch := make(map[uint32]index.Content, len(cs))
	for uid, c := range cs {
		batch[uid] = *c
	}
	if err := tx.PutContents(rowID, batch); err != nil {
		return err
	}
	return tx.Commit()
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
	share(n, w, func(take func() (int, bool)) {
		fn := worker()
		for k, ok := take(); ok; k, ok = take() {
			fn(k)
		}
	})
}

// share runs run on w goroutines and returns when all are done; take
// hands out 0 .. n-1, each number once, across them.
func share(n, w int, run func(take func() (int, bool))) {
	var next atomic.Int64
	take := func() (int, bool) {
		k := int(next.Add(1) - 1)
		return k, k < n
	}
	var wg sync.WaitGroup
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(take)
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
	c.beginAtLeast(workers())
}

// beginAtLeast is begin that raises GOMAXPROCS to want (parallelLow
// wants a P more than its threads at a low priority hold).
func (c *cpuBurst) beginAtLeast(want int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		c.saved = 0
	}
	if runtime.GOMAXPROCS(0) < want {
		if prev := runtime.GOMAXPROCS(want); c.saved == 0 {
			c.saved = prev
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
	c.hold()
}

func (c *cpuBurst) endForeground() {
	c.release()
	c.end()
}

// hold marks work a client waits for without raising GOMAXPROCS (a
// large FETCH reading cached structures): the background indexer
// yields to it as to a foreground parse.
func (c *cpuBurst) hold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fg == 0 {
		c.fgDone = make(chan struct{})
	}
	c.fg++
}

func (c *cpuBurst) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fg--
	if c.fg == 0 {
		close(c.fgDone)
	}
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
