package maildir

import (
	"bytes"
	"os"
	"path/filepath"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"cote/storage/index"
)

// structureReader reads message files for their structure, reusing one
// buffer: a worker of a parse in parallel holds one.
type structureReader struct {
	buf  []byte // the file as read
	crlf []byte // the file with bare LFs made CRLF, when it had any
	// atime: a file was not ours to open with O_NOATIME (a shared
	// folder's); the rest are opened without it.
	atime atomic.Bool
}

// structure is structureOfFile with the reader's buffers: the message's
// structure now (index.ParseStructure, whose result holds no reference
// to the bytes), its text later in a batch. It returns nil for messages
// over index.MaxParse.
func (r *structureReader) structure(path string) (*index.Content, error) {
	return r.structureAt(unix.AT_FDCWD, "", path)
}

// structureAt is structure of the file name in the directory open as
// dirfd (dir is its path, for errors).
func (r *structureReader) structureAt(dirfd int, dir, name string) (*index.Content, error) {
	raw, err := r.readAt(dirfd, dir, name)
	if raw == nil || err != nil {
		return nil, err
	}
	return &index.Content{Cached: index.ParseStructure(raw), TextLater: true}, nil
}

// structureSized is structureAt of a file whose size (size, -1 when
// not known) and size with CRLF line endings (vsize, -1 when not known)
// the caller knows (mmsg.sizes): the file is read without asking its
// size, and when it has as many bytes as it has with CRLF line endings
// it has no bare LF, and is parsed without looking for one.
func (r *structureReader) structureSized(dirfd int, dir, name string, size, vsize int64) (*index.Content, error) {
	raw, err := r.readRaw(dirfd, dir, name, size)
	if raw == nil || err != nil {
		return nil, err
	}
	if int64(len(raw)) != vsize {
		raw = r.toCRLF(raw)
	}
	return &index.Content{Cached: index.ParseStructure(raw), TextLater: true}, nil
}

// sizes returns what a message's file name and dovecot-uidlist fields
// say of its file's size (S=) and of its size with CRLF line endings
// (W=, or the W field a first scan counted and wrote); -1 for what they
// do not say.
func (m *mmsg) sizes() (size, vsize int64) {
	fi := parseFileName(m.name)
	vsize = fi.VSize
	if vsize < 0 {
		if w := (uidRec{Ext: m.ext}).ext('W'); w != "" {
			if n, err := parseU32(w); err == nil {
				vsize = int64(n)
			}
		}
	}
	return fi.Size, vsize
}

// read returns the file's bytes with CRLF line endings, as
// mailstate.CRLFReader gives them; nil for a file over index.MaxParse.
// The bytes are valid until the next call.
func (r *structureReader) read(path string) ([]byte, error) {
	return r.readAt(unix.AT_FDCWD, "", path)
}

// readAt is read of the file name in the directory open as dirfd
// (unix.AT_FDCWD: name is a path); dir is the directory's path, which
// only errors name. Opening relative to the directory spares the kernel
// the walk of the whole path for each of a batch's files.
func (r *structureReader) readAt(dirfd int, dir, name string) ([]byte, error) {
	raw, err := r.readRaw(dirfd, dir, name, -1)
	if raw == nil || err != nil {
		return nil, err
	}
	return r.toCRLF(raw), nil
}

// readRaw is readAt without the CRLF conversion: the bytes as they are.
// size, when not negative, is what the caller knows of the file's size
// (a message's): the buffer is made for it without asking the file,
// unless it is over the limit. The bytes are valid until the next call.
func (r *structureReader) readRaw(dirfd int, dir, name string, size int64) ([]byte, error) {
	// The file is read with plain system calls: an os.File registers
	// with the runtime's poller (and fails to, for a regular file) and
	// carries a finalizer, which costs more than the read of a small
	// message.
	fd, err := openNoatime(dirfd, name, &r.atime)
	if err != nil {
		return nil, pathError("open", dir, name, err)
	}
	defer unix.Close(fd)
	if size < 0 || size > index.MaxParse {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return nil, pathError("stat", dir, name, err)
		}
		if st.Size > index.MaxParse {
			return nil, nil
		}
		size = st.Size
	}
	// One read of the size, plus one to see the end (the file may have
	// grown, or the size was short: read on to the limit).
	want := int(size) + 1
	if cap(r.buf) < want {
		r.buf = make([]byte, 0, want+want/4)
	}
	b := r.buf[:0]
	for {
		if len(b) == cap(b) {
			if len(b) > index.MaxParse {
				break
			}
			b = append(b, 0)[:len(b)]
		}
		asked := cap(b) - len(b)
		n, err := ignoringEINTR(func() (int, error) { return unix.Read(fd, b[len(b):cap(b)]) })
		if err != nil {
			return nil, pathError("read", dir, name, err)
		}
		if n == 0 {
			break
		}
		b = b[:len(b)+n]
		if n < asked && len(b) >= int(size) {
			// A short read of a regular file, past the size known:
			// its end, without a read that returns 0.
			break
		}
	}
	r.buf = b[:0]
	if len(b) > index.MaxParse {
		return nil, nil
	}
	return b, nil
}

// openNoatime opens the file name in the directory open as dirfd
// (unix.AT_FDCWD: name is a path) for reading, with O_NOATIME: reading
// a message is not an access its owner would want recorded, and a first
// read of every file of a Maildir (a first SELECT's, a first FETCH's)
// would otherwise write every inode back through the journal. Only the
// file's owner may ask for O_NOATIME: once refused (a file of a shared
// folder), atime is set and files are opened without it.
func openNoatime(dirfd int, name string, atime *atomic.Bool) (int, error) {
	if !atime.Load() {
		fd, err := ignoringEINTR(func() (int, error) {
			return unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOATIME, 0)
		})
		if err != unix.EPERM {
			return fd, err
		}
		atime.Store(true)
	}
	return ignoringEINTR(func() (int, error) { return unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0) })
}

// pathError is the error of op on the file name in dir ("" when name
// is a path).
func pathError(op, dir, name string, err error) error {
	if dir != "" {
		name = filepath.Join(dir, name)
	}
	return &os.PathError{Op: op, Path: name, Err: err}
}

func ignoringEINTR(fn func() (int, error)) (int, error) {
	for {
		n, err := fn()
		if err != unix.EINTR {
			return n, err
		}
	}
}

// toCRLF returns b with a CR added before each bare LF; b itself when it
// has none.
func (r *structureReader) toCRLF(b []byte) []byte {
	bare := 0
	for i := bytes.IndexByte(b, '\n'); i >= 0; {
		if i == 0 || b[i-1] != '\r' {
			bare++
		}
		j := bytes.IndexByte(b[i+1:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
	}
	if bare == 0 {
		return b
	}
	out := r.crlf[:0]
	if cap(out) < len(b)+bare {
		out = make([]byte, 0, len(b)+bare)
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b...)
			break
		}
		out = append(out, b[:i]...)
		if i == 0 || b[i-1] != '\r' {
			out = append(out, '\r')
		}
		out = append(out, '\n')
		b = b[i+1:]
	}
	r.crlf = out[:0]
	return out
}
