package proto

import (
	"reflect"
	"testing"
)

func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(Encode(m), fdCount(m.Type()))
	}
	f.Fuzz(func(t *testing.T, pkt []byte, nfds int) {
		m, err := Decode(pkt, nfds)
		if err != nil {
			return
		}
		// What decodes must survive a round trip unchanged.
		again, err := Decode(Encode(m), nfds)
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Errorf("Decode(Encode(%+v)) = %+v, %v", m, again, err)
		}
	})
}

func FuzzAuthLine(f *testing.F) {
	f.Add("AUTH\t1\tPLAIN\tservice=imap\tresp=AGRlbW8AZGVtbw==")
	f.Add("OK\t1\tuser=demo\tx=\x01t\x01n")
	f.Add("\x01")
	f.Fuzz(func(t *testing.T, line string) {
		fields, err := ParseAuthLine(line)
		if err != nil {
			return
		}
		out := AuthLine(fields...)
		back, err := ParseAuthLine(out[:len(out)-1])
		if err != nil || len(back) != len(fields) {
			t.Fatalf("ParseAuthLine(AuthLine(%q)) = %q, %v", fields, back, err)
		}
		for i := range back {
			if back[i] != fields[i] {
				t.Fatalf("field %d: %q != %q", i, back[i], fields[i])
			}
		}
	})
}
