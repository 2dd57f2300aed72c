package login

import (
	"encoding/base64"
	"net/netip"
	"testing"
	"time"
)

func TestSessionID(t *testing.T) {
	now := time.UnixMicro(0x0000_1234_5678_9abc)
	tests := []struct {
		remote string
		want   int
	}{
		{"198.51.100.7:40000", 16},
		{"[2001:db8::1]:993", 32},
	}
	for _, tt := range tests {
		ap := netip.MustParseAddrPort(tt.remote)
		id := sessionID(now, ap)
		if len(id) != tt.want {
			t.Errorf("sessionID(%s) = %q, want %d characters", tt.remote, id, tt.want)
		}
		b, err := base64.StdEncoding.DecodeString(id)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != 0xbc || b[5] != 0x12 || int(b[6])|int(b[7])<<8 != int(ap.Port()) {
			t.Errorf("sessionID(%s) bytes % x", tt.remote, b)
		}
	}
}

func TestIsTrusted(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		local, remote string
		want          bool
	}{
		{"127.0.0.1:143", "127.0.0.1:5000", true},
		{"192.0.2.1:143", "127.0.0.5:5000", true}, // loopback
		{"192.0.2.1:143", "192.0.2.1:5000", true}, // same IP
		{"[::1]:143", "[::1]:5000", true},
		{"192.0.2.1:143", "10.1.2.3:5000", true},
		{"192.0.2.1:143", "198.51.100.7:5000", false},
		{"[2001:db8::1]:143", "[2001:db8::2]:5000", false},
	}
	for _, tt := range tests {
		got := isTrusted(netip.MustParseAddrPort(tt.local), netip.MustParseAddrPort(tt.remote), trusted)
		if got != tt.want {
			t.Errorf("isTrusted(%s, %s) = %v, want %v", tt.local, tt.remote, got, tt.want)
		}
	}
	if !isTrusted(netip.AddrPort{}, netip.AddrPort{}, nil) {
		t.Error("Unix socket peer not trusted")
	}
}
