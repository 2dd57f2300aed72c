package proto

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
)

// Fingerprint is a digest of the control protocol as this binary speaks
// it: every message type encoded from a sample value (Sample), so that a
// field added, removed, retyped or encoded in another order changes it.
// The master compares it with a separate worker binary's before it starts
// workers from that binary (master/workerexe.go); Version alone is bumped
// by hand and can be forgotten.
func Fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "version %d\n", Version)
	for t := range 256 {
		m, err := newMessage(Type(t))
		if err != nil {
			continue
		}
		Sample(m)
		e := &Encoder{buf: []byte{Version, byte(m.Type())}}
		m.encode(e)
		fmt.Fprintf(h, "%d %d %d %x\n", t, fdCount(m.Type()), len(e.buf), e.buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Sample fills the value v points to with values that depend on each
// field's position and type and are never zero: strings name their
// field, numbers count up, slices and maps get two elements. Two
// binaries fill the same type alike, and a different type differently
// (in what an encoding of it shows).
func Sample(v any) {
	n := 0
	fill(reflect.ValueOf(v).Elem(), &n, 0)
}

func fill(v reflect.Value, n *int, depth int) {
	*n++
	if depth > 8 || !v.CanSet() {
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(uint64(*n % 100))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.String:
		v.SetString(fmt.Sprintf("%s%d", v.Type().Name(), *n))
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), n, depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), n, depth+1)
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), n, depth+1)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			e := reflect.New(v.Type().Elem()).Elem()
			fill(k, n, depth+1)
			fill(e, n, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n, depth+1)
			}
		}
	}
}
