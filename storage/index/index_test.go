package index

import (
	"reflect"
	"testing"

	"cote/storage"
)

// normalize makes nil and empty slices equal for comparisons.
func normalize(p storage.Part) storage.Part {
	if len(p.Header) == 0 {
		p.Header = nil
	}
	if len(p.Children) == 0 {
		p.Children = nil
	}
	for i := range p.Children {
		p.Children[i] = normalize(p.Children[i])
	}
	if p.Message != nil {
		m := normalize(*p.Message)
		p.Message = &m
	}
	return p
}

func TestParseQuotaRules(t *testing.T) {
	tests := []struct {
		rules []string
		want  Limits
		err   bool
	}{
		{[]string{"*:storage=1G", "*:messages=10000"}, Limits{Storage: 1 << 30, Messages: 10000}, false},
		{[]string{"*:storage=100"}, Limits{Storage: 100 << 10}, false}, // kilobytes without a unit
		{[]string{"*:bytes=100"}, Limits{Storage: 100}, false},
		{[]string{"*:storage=2GB:messages=5"}, Limits{Storage: 2 << 30, Messages: 5}, false},
		{[]string{"*:storage=1M", "Trash:ignore", "Sent:storage=+10M"}, Limits{}, true},
		{[]string{"*:storage=1M", "Trash:ignore"}, Limits{Storage: 1 << 20}, false},
		{[]string{"*:storage=0"}, Limits{}, false},
		{[]string{"*:storage=1X"}, Limits{}, true},
		{[]string{"storage=1G"}, Limits{}, true},
		{[]string{"*:color=red"}, Limits{}, true},
	}
	for _, tt := range tests {
		got, err := ParseQuotaRules(tt.rules)
		if (err != nil) != tt.err || err == nil && got != tt.want {
			t.Errorf("ParseQuotaRules(%q) = %+v, %v; want %+v, error %v", tt.rules, got, err, tt.want, tt.err)
		}
	}
}

func TestParseStructure(t *testing.T) {
	raw := []byte(mimeSeeds[0])
	c := ParseStructure(raw)
	if len(c.Children) != 2 {
		t.Fatalf("ParseStructure: %d parts, want 2", len(c.Children))
	}
	if got := string(raw[c.Children[0].BodyStart:c.Children[0].End]); got != "This is implicitly typed plain US-ASCII text." {
		t.Errorf("part 1 body = %q", got)
	}
	if got := string(raw[c.Children[1].BodyStart:c.Children[1].End]); got != "This is explicitly typed.\r\n" {
		t.Errorf("part 2 body = %q", got)
	}
	if string(c.Header) == "" || c.Children[1].Lines != 1 {
		t.Errorf("header %q, part 2 lines %d", c.Header, c.Children[1].Lines)
	}
	inner := ParseStructure([]byte(mimeSeeds[1]))
	if inner.Message == nil || string(inner.Message.Header) != "Subject: inner\r\n" {
		t.Errorf("message/rfc822 = %+v", inner)
	}
	d, err := decodeCached(encodeCached(c))
	if err != nil || !reflect.DeepEqual(normalize(d.Part), normalize(c.Part)) {
		t.Errorf("cache round trip = %+v, %v", d, err)
	}
}
