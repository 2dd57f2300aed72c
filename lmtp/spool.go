package lmtp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// spoolSeals are the seals a delivered memfd carries: nobody, the lmtp
// process included, can change its contents or size any more.
const spoolSeals = unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL

// spool is one message being received. It is written once, then sealed;
// workers read it with pread (ReadAt), so the shared file offset of the
// descriptor they all got does not matter.
type spool struct {
	f    *os.File // the descriptor written to
	path string   // temp file name until sealed; "" for a memfd
	w    *bufio.Writer
	size int64
	pool *spoolPool // where w and readFrom's buffer come from; may be nil
}

// spoolPool keeps the spools' write buffers and readFrom's read buffers
// for the next message, so that a message does not cost 96 KB of garbage.
// The zero value is ready; a nil pool allocates each time.
type spoolPool struct {
	writers sync.Pool // *bufio.Writer of 64 KB
	bufs    sync.Pool // *[]byte of 32 KB
}

func (p *spoolPool) writer(f *os.File) *bufio.Writer {
	if p != nil {
		if w, ok := p.writers.Get().(*bufio.Writer); ok {
			w.Reset(f)
			return w
		}
	}
	return bufio.NewWriterSize(f, 64<<10)
}

func (p *spoolPool) buf() *[]byte {
	if p != nil {
		if b, ok := p.bufs.Get().(*[]byte); ok {
			return b
		}
	}
	b := make([]byte, 32<<10)
	return &b
}

func (p *spoolPool) putBuf(b *[]byte) {
	if p != nil {
		p.bufs.Put(b)
	}
}

// release gives the write buffer back; the spool is not written again.
func (s *spool) release() {
	if s.w != nil && s.pool != nil {
		s.w.Reset(nil)
		s.pool.writers.Put(s.w)
	}
	s.w = nil
}

// newSpool makes a memfd that can be sealed, or, where memfd_create is not
// allowed, a temp file in dir ("" is os.TempDir()).
func newSpool(dir string) (*spool, error) { return (*spoolPool)(nil).newSpool(dir) }

// newSpool is newSpool with buffers from p.
func (p *spoolPool) newSpool(dir string) (*spool, error) {
	fd, err := unix.MemfdCreate("cote-lmtp", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err == nil {
		f := os.NewFile(uintptr(fd), "memfd:cote-lmtp")
		return &spool{f: f, w: p.writer(f), pool: p}, nil
	}
	sp, terr := p.newTempSpool(dir)
	if terr != nil {
		return nil, fmt.Errorf("spool: memfd: %v; %w", err, terr)
	}
	return sp, nil
}

// newTempSpool makes a spool in a temp file in dir, which seal unlinks.
func newTempSpool(dir string) (*spool, error) { return (*spoolPool)(nil).newTempSpool(dir) }

func (p *spoolPool) newTempSpool(dir string) (*spool, error) {
	f, err := os.CreateTemp(dir, "cote-lmtp-*")
	if err != nil {
		return nil, fmt.Errorf("temp file: %w", err)
	}
	return &spool{f: f, path: f.Name(), w: p.writer(f), pool: p}, nil
}

func (s *spool) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.size += int64(n)
	return n, err
}

// seal finishes writing and returns a descriptor the receivers can only
// read: the sealed memfd (reopened read-only when /proc allows), or the
// temp file opened read-only and unlinked. The spool's own descriptor is
// closed either way.
func (s *spool) seal() (*os.File, error) {
	defer s.f.Close()
	err := s.w.Flush()
	s.release()
	if err != nil {
		s.discardTemp()
		return nil, fmt.Errorf("spool: %w", err)
	}
	if s.path != "" {
		ro, err := os.Open(s.path)
		s.discardTemp()
		if err != nil {
			return nil, fmt.Errorf("spool: reopen: %w", err)
		}
		return ro, nil
	}
	fd := int(s.f.Fd())
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, spoolSeals); err != nil {
		return nil, fmt.Errorf("spool: seal: %w", err)
	}
	// A read-only open file description, so that even the seals are not
	// all that stands between a worker and the other recipients' copy.
	// open(2) itself: os.Open would also try the file with the runtime's
	// poller, which a memfd refuses, in three more system calls.
	path := "/proc/self/fd/" + strconv.Itoa(fd)
	if ro, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		return os.NewFile(uintptr(ro), path), nil
	}
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("spool: dup: %w", err)
	}
	return os.NewFile(uintptr(dup), s.f.Name()), nil
}

// discard drops an unfinished spool.
func (s *spool) discard() {
	s.release()
	s.f.Close()
	s.discardTemp()
}

func (s *spool) discardTemp() {
	if s.path != "" {
		os.Remove(s.path)
		s.path = ""
	}
}

// readFrom copies the message into the spool; errors of r (the client's
// data) are returned as they are, so that go-smtp's typed ones (message
// too large) reach the client.
func (s *spool) readFrom(r io.Reader) error {
	bp := s.pool.buf()
	defer s.pool.putBuf(bp)
	buf := *bp
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := s.Write(buf[:n]); werr != nil {
				return errSpoolWrite{werr}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// errSpoolWrite is a failure of our side while spooling.
type errSpoolWrite struct{ err error }

func (e errSpoolWrite) Error() string { return "spool: " + e.err.Error() }
func (e errSpoolWrite) Unwrap() error { return e.err }
