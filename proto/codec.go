package proto

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("proto: malformed message")

// Encoder appends fields to a packet body. Integers are unsigned varints;
// strings and byte slices are a varint length followed by the bytes.
type Encoder struct {
	buf []byte
}

// Bytes returns the encoded body.
func (e *Encoder) Bytes() []byte { return e.buf }

// Uint appends an unsigned integer.
func (e *Encoder) Uint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }

// Bool appends a boolean as 0 or 1.
func (e *Encoder) Bool(v bool) {
	if v {
		e.Uint(1)
	} else {
		e.Uint(0)
	}
}

// Blob appends a length-prefixed byte slice.
func (e *Encoder) Blob(b []byte) {
	e.Uint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

// String appends a length-prefixed string.
func (e *Encoder) String(s string) {
	e.Uint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// Strings appends a counted list of strings.
func (e *Encoder) Strings(ss []string) {
	e.Uint(uint64(len(ss)))
	for _, s := range ss {
		e.String(s)
	}
}

// Decoder reads fields from a packet body. The first error sticks: every
// later call returns a zero value, and Err reports the error.
type Decoder struct {
	buf []byte
	err error
}

// NewDecoder returns a decoder over body.
func NewDecoder(body []byte) *Decoder { return &Decoder{buf: body} }

// Err returns the first decoding error.
func (d *Decoder) Err() error { return d.err }

func (d *Decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
}

// Finish reports an error if bytes are left over or a field failed.
func (d *Decoder) Finish() error {
	if d.err == nil && len(d.buf) != 0 {
		d.fail("%d trailing bytes", len(d.buf))
	}
	return d.err
}

// Uint reads an unsigned integer.
func (d *Decoder) Uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// Uint32 reads an unsigned integer that must fit in 32 bits.
func (d *Decoder) Uint32() uint32 {
	v := d.Uint()
	if v > 1<<32-1 {
		d.fail("integer %d out of range", v)
		return 0
	}
	return uint32(v)
}

// Bool reads a boolean.
func (d *Decoder) Bool() bool {
	v := d.Uint()
	if v > 1 {
		d.fail("bad boolean %d", v)
	}
	return v == 1
}

func (d *Decoder) bytes(max int) []byte {
	n := d.Uint()
	if d.err != nil {
		return nil
	}
	if n > uint64(max) || n > uint64(len(d.buf)) {
		d.fail("field of %d bytes exceeds limit or packet", n)
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

// Blob reads a byte slice of at most max bytes. The result is a copy.
func (d *Decoder) Blob(max int) []byte {
	b := d.bytes(max)
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// String reads a string of at most MaxString bytes.
func (d *Decoder) String() string { return string(d.bytes(MaxString)) }

// Strings reads a counted list of at most max strings.
func (d *Decoder) Strings(max int) []string {
	n := d.Uint()
	if d.err != nil {
		return nil
	}
	if n > uint64(max) || n > uint64(len(d.buf)) {
		d.fail("list of %d strings exceeds limit", n)
		return nil
	}
	ss := make([]string, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		ss = append(ss, d.String())
	}
	return ss
}
