package proto

import (
	"bytes"
	"reflect"
	"testing"
)

// TestFingerprintSeesEveryField checks that the fingerprint follows what
// each message puts on the wire: in the sample of every message type,
// setting any one field back to its zero value changes the encoding, so
// a field added to a message, dropped from it, or encoded in another way
// changes the digest.
func TestFingerprintSeesEveryField(t *testing.T) {
	if a, b := Fingerprint(), Fingerprint(); a != b {
		t.Fatalf("Fingerprint differs between two calls: %s, %s", a, b)
	}
	encode := func(m Message) []byte {
		e := &Encoder{}
		m.encode(e)
		return e.buf
	}
	types := 0
	for ty := range 256 {
		m, err := newMessage(Type(ty))
		if err != nil {
			continue
		}
		types++
		Sample(m)
		want := encode(m)
		v := reflect.ValueOf(m).Elem()
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			saved := reflect.New(f.Type).Elem()
			saved.Set(v.Field(i))
			v.Field(i).SetZero()
			if bytes.Equal(encode(m), want) {
				t.Errorf("%T.%s: zeroing it leaves the encoding unchanged", m, f.Name)
			}
			v.Field(i).Set(saved)
		}
	}
	if types < 20 {
		t.Fatalf("only %d message types found", types)
	}
}
