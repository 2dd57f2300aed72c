package login

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"cote/proto"
)

func TestParseServerLine(t *testing.T) {
	tests := []struct {
		line    string
		want    serverLine
		wantErr bool
	}{
		// Reference section 2.2 examples.
		{"VERSION\t1\t2", serverLine{cmd: "VERSION", args: []string{"1", "2"}}, false},
		{"MECH\tPLAIN\tplaintext", serverLine{cmd: "MECH", args: []string{"PLAIN", "plaintext"}}, false},
		{"OK\t1\tuser=test", serverLine{cmd: "OK", id: 1, args: []string{"user=test"}}, false},
		{"CONT\t7\t", serverLine{cmd: "CONT", id: 7, args: []string{""}}, false},
		{"CONT\t7", serverLine{cmd: "CONT", id: 7, args: []string{""}}, false},
		{"CONT\t7\tVXNlcm5hbWU6", serverLine{cmd: "CONT", id: 7, args: []string{"VXNlcm5hbWU6"}}, false},
		{"FAIL\t3\tuser=u\tcode=temp_fail\treason=a\x01tb", serverLine{cmd: "FAIL", id: 3, args: []string{"user=u", "code=temp_fail", "reason=a\tb"}}, false},
		{"FAIL\t0", serverLine{}, true},
		{"FAIL\t+1", serverLine{}, true},
		{"OK\t4294967296", serverLine{}, true},
		{"OK", serverLine{}, true},
		{"CONT\t1\ta\tb", serverLine{}, true},
		{"", serverLine{}, true},
		{"OK\t1\tbad\x01x", serverLine{}, true},
	}
	for _, tt := range tests {
		got, err := parseServerLine(tt.line)
		if (err != nil) != tt.wantErr || (err == nil && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("parseServerLine(%q) = %+v, %v; want %+v, error %v", tt.line, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestHandshake(t *testing.T) {
	good := []string{"VERSION\t1\t2", "MECH\tPLAIN\tplaintext", "MECH\tAPOP\tprivate", "MECH\tcram-md5\tdictionary\tactive",
		"SPID\t13046", "CUID\t7", "COOKIE\t0123456789abcdef0123456789ABCDEF", "X-NEW\tignored", "DONE"}
	var h handshake
	for _, l := range good {
		sl, err := parseServerLine(l)
		if err == nil {
			err = h.add(sl)
		}
		if err != nil {
			t.Fatalf("add(%q) = %v", l, err)
		}
	}
	wantMechs := []Mech{{Name: "PLAIN", Plaintext: true}, {Name: "APOP", Private: true}, {Name: "CRAM-MD5"}}
	if !h.done || h.spid != 13046 || h.cuid != "7" || !reflect.DeepEqual(h.mechs, wantMechs) {
		t.Errorf("handshake = %+v", h)
	}
	bad := [][]string{
		{"VERSION\t2\t0"},
		{"VERSION\t1\t2", "DONE"}, // no SPID or COOKIE
		{"VERSION\t1\t2", "COOKIE\txyz"},
		{"VERSION\t1\t2", "SPID\t0"},
		{"VERSION\t1\t2", "OK\t1"},
		{"DONE"},
	}
	for _, lines := range bad {
		var h handshake
		var err error
		for _, l := range lines {
			var sl serverLine
			if sl, err = parseServerLine(l); err == nil {
				err = h.add(sl)
			}
			if err != nil {
				break
			}
		}
		if err == nil {
			t.Errorf("handshake %q: no error", lines)
		}
	}
}

// FuzzServerLine: parsing never panics, and a parsed reply survives
// re-encoding.
func FuzzServerLine(f *testing.F) {
	for _, s := range []string{"VERSION\t1\t2", "MECH\tPLAIN\tplaintext", "SPID\t13046", "CUID\t7",
		"COOKIE\t0123456789abcdef0123456789abcdef", "DONE", "CONT\t1\t", "OK\t1\tuser=test",
		"FAIL\t1\tuser=u\tcode=temp_fail\treason=x\x01ty", "OK\t1\tuser=test\tnologin\treason=go away"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		l, err := parseServerLine(line)
		if err != nil {
			return
		}
		var h handshake
		h.add(l)
		if l.cmd != "CONT" && l.cmd != "OK" && l.cmd != "FAIL" {
			return
		}
		fields := append([]string{l.cmd, strconv.FormatUint(uint64(l.id), 10)}, l.args...)
		again, err := parseServerLine(strings.TrimSuffix(proto.AuthLine(fields...), "\n"))
		if err != nil || !reflect.DeepEqual(again, l) {
			t.Fatalf("re-encoded %+v parses as %+v, %v", l, again, err)
		}
	})
}
