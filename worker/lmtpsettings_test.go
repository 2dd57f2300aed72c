package worker

import (
	"testing"

	"cote/config"
)

const authBlocks = "ssl = no\npassdb {\n  driver = static\n  args = password=x\n}\nuserdb {\n  driver = static\n  args = uid=1000 gid=1000 home=/home/%u\n}\n"

// TestLmtpSettings: deliveries see a protocol lmtp { } block's settings,
// and only the lmtp one's.
func TestLmtpSettings(t *testing.T) {
	tests := []struct {
		name, conf string
		want       string // lmtp_hdr_delivery_address deliveries see
	}{
		{"no block", "lmtp_hdr_delivery_address = none\n", "none"},
		{"lmtp block", "lmtp_hdr_delivery_address = final\nprotocol lmtp {\n  lmtp_hdr_delivery_address = none\n}\n", "none"},
		{"imap block only", "lmtp_hdr_delivery_address = final\nprotocol imap {\n  lmtp_hdr_delivery_address = none\n}\n", "final"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := config.ParseString("test.conf", authBlocks+tt.conf)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.ForProtocol("lmtp").LmtpHdrDeliveryAddress; got != tt.want {
				t.Errorf("ForProtocol(lmtp) of %q: LmtpHdrDeliveryAddress = %q, want %q", tt.conf, got, tt.want)
			}
		})
	}
}

// BenchmarkLmtpSettings: what a worker's first delivery pays for its
// settings without a protocol lmtp { } block (a copy through JSON before
// ForProtocol returned the settings themselves).
func BenchmarkLmtpSettings(b *testing.B) {
	s, err := config.ParseString("test.conf", authBlocks)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s.ForProtocol("lmtp")
	}
}
