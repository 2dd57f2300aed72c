package maildir

import (
	"bytes"
	"os"

	"golang.org/x/sys/unix"

	"cote/storage/index"
)

// structureReader reads message files for their structure, reusing one
// buffer: a worker of a parse in parallel holds one.
type structureReader struct {
	buf  []byte // the file as read
	crlf []byte // the file with bare LFs made CRLF, when it had any
}

// structure is structureOfFile with the reader's buffers: the message's
// structure now (index.ParseStructure, whose result holds no reference
// to the bytes), its text later in a batch. It returns nil for messages
// over index.MaxParse.
func (r *structureReader) structure(path string) (*index.Content, error) {
	raw, err := r.read(path)
	if raw == nil || err != nil {
		return nil, err
	}
	return &index.Content{Cached: index.ParseStructure(raw), TextLater: true}, nil
}

// read returns the file's bytes with CRLF line endings, as
// mailstate.CRLFReader gives them; nil for a file over index.MaxParse.
// The bytes are valid until the next call.
func (r *structureReader) read(path string) ([]byte, error) {
	// The file is read with plain system calls: an os.File registers
	// with the runtime's poller (and fails to, for a regular file) and
	// carries a finalizer, which costs more than the read of a small
	// message.
	fd, err := ignoringEINTR(func() (int, error) { return unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0) })
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Size > index.MaxParse {
		return nil, nil
	}
	// One read of the size Stat gave, plus one to see the end (the file
	// may have grown: read on to the limit).
	want := int(st.Size) + 1
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
		n, err := ignoringEINTR(func() (int, error) { return unix.Read(fd, b[len(b):cap(b)]) })
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		b = b[:len(b)+n]
	}
	r.buf = b[:0]
	if len(b) > index.MaxParse {
		return nil, nil
	}
	return r.toCRLF(b), nil
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
