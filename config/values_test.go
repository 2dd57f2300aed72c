package config

import (
	"math"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{"0", 0, false},
		{"100", 100, false},
		{"64k", 64 << 10, false},
		{"64 K", 64 << 10, false},
		{"256M", 256 << 20, false},
		{"256 MB", 256 << 20, false},
		{"1G", 1 << 30, false},
		{"1GiB", 1 << 30, false},
		{"2t", 2 << 40, false},
		{"10b", 10, false},
		{"unlimited", math.MaxUint64, false},
		{"", 0, true},
		{"M", 0, true},
		{"-1", 0, true},
		{"1X", 0, true},
		{"1MX", 0, true},
		{"1bb", 0, true},
		{"99999999999999999999", 0, true},
		{"17000000T", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseSize(%q) = %d, %v, want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err == nil {
				back, err := ParseSize(FormatSize(got))
				if err != nil || back != got {
					t.Errorf("ParseSize(FormatSize(%d) = %q) = %d, %v", got, FormatSize(got), back, err)
				}
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"0", 0, false},
		{"2", 2 * time.Second, false},
		{"2 secs", 2 * time.Second, false},
		{"5s", 5 * time.Second, false},
		{"1 sec", time.Second, false},
		{"1 min", time.Minute, false},
		{"10 mins", 10 * time.Minute, false},
		{"3m", 3 * time.Minute, false},
		{"100ms", 100 * time.Millisecond, false},
		{"100 msecs", 100 * time.Millisecond, false},
		{"1 hour", time.Hour, false},
		{"2 Hours", 2 * time.Hour, false},
		{"1d", 24 * time.Hour, false},
		{"2 weeks", 14 * 24 * time.Hour, false},
		{"", 0, true},
		{"secs", 0, true},
		{"1 fortnight", 0, true},
		{"-1", 0, true},
		{"1.5s", 0, true},
		{"9999999999999 weeks", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseDuration(%q) = %v, %v, want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err == nil {
				back, err := ParseDuration(FormatDuration(got))
				if err != nil || back != got {
					t.Errorf("ParseDuration(FormatDuration(%v) = %q) = %v, %v", got, FormatDuration(got), back, err)
				}
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{FormatSize(64 << 10), "64k"},
		{FormatSize(256 << 20), "256M"},
		{FormatSize(1000), "1000"},
		{FormatDuration(2 * time.Second), "2 secs"},
		{FormatDuration(time.Minute), "1 min"},
		{FormatDuration(90 * time.Second), "90 secs"},
		{FormatDuration(1500 * time.Millisecond), "1500 ms"},
		{FormatDuration(7 * 24 * time.Hour), "1 week"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestParseBool(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{"yes", true, false}, {"Yes", true, false}, {"true", true, false}, {"1", true, false},
		{"no", false, false}, {"false", false, false}, {"0", false, false},
		{"", false, true}, {"maybe", false, true},
	} {
		got, err := parseBool(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("parseBool(%q) = %v, %v, want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestNumericID(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"#50001", 50001, true}, {"#0", 0, true},
		{"cote", 0, false}, {"#", 0, false}, {"#-1", 0, false}, {"#+1", 0, false}, {"#1x", 0, false}, {"50001", 0, false},
	} {
		got, ok := NumericID(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NumericID(%q) = %d, %v, want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
