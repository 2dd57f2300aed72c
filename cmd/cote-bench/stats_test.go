package main

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 51, 3 * time.Millisecond},
		{ms(1, 2, 3, 4), 100, 4 * time.Millisecond},
		{ms(1, 2, 3, 4), 0, 1 * time.Millisecond},
		{ms(hundred...), 99, 99 * time.Millisecond},
		{ms(hundred...), 50, 50 * time.Millisecond},
		{ms(hundred...), 99.5, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
		}
	}
}

func TestLatenciesSorted(t *testing.T) {
	var l latencies
	for _, d := range []time.Duration{3, 1, 2} {
		l.add(d)
	}
	s := l.sorted()
	if len(s) != 3 || s[0] != 1 || s[2] != 3 {
		t.Errorf("sorted() = %v, want [1 2 3]", s)
	}
	if l.d[0] != 3 {
		t.Errorf("sorted() reordered the samples: %v", l.d)
	}
}

func TestRate(t *testing.T) {
	if got := rate(50, 2*time.Second); got != 25 {
		t.Errorf("rate(50, 2s) = %v, want 25", got)
	}
	if got := rate(5, 0); got != 0 {
		t.Errorf("rate(5, 0) = %v, want 0", got)
	}
}

func TestLoopBounds(t *testing.T) {
	ok, failed, _, err := loop(4, time.Minute, 10, func(_, _ int) error { return nil })
	if ok != 10 || failed != 0 || err != nil {
		t.Errorf("loop(count 10) = %d ok, %d failed, %v; want 10, 0, nil", ok, failed, err)
	}
	start := time.Now()
	ok, _, _, _ = loop(2, 50*time.Millisecond, 0, func(_, _ int) error { time.Sleep(time.Millisecond); return nil })
	if el := time.Since(start); el > 2*time.Second || ok == 0 {
		t.Errorf("loop(50ms) ran %v with %d ok", el, ok)
	}
}

func TestLiteralLen(t *testing.T) {
	tests := []struct {
		line string
		want int64
	}{
		{`* 1 FETCH (BODY[] {123}`, 123},
		{`* 1 FETCH (BODY[] {12+}`, 12},
		{`* 1 FETCH (UID 1)`, -1},
		{`* OK {x}`, -1},
		{`}`, -1},
	}
	for _, tt := range tests {
		if got := literalLen([]byte(tt.line)); got != tt.want {
			t.Errorf("literalLen(%q) = %d, want %d", tt.line, got, tt.want)
		}
	}
}

func TestWriteDotStuffed(t *testing.T) {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	writeDotStuffed(w, []byte(".a\r\nb\r\n..c\r\nd"))
	w.Flush()
	if want := "..a\r\nb\r\n...c\r\nd\r\n"; b.String() != want {
		t.Errorf("writeDotStuffed = %q, want %q", b.String(), want)
	}
}

func TestGenMessage(t *testing.T) {
	rare, subj := 0, 0
	for i := range 2000 {
		m := genMessage(i, "u@x")
		if len(m) < 4<<10 || len(m) > 56<<10 {
			t.Errorf("genMessage(%d) is %d bytes, want 4-50 KB", i, len(m))
		}
		if bytes.Contains(m, []byte(rareWord)) {
			rare++
		}
		head, _, _ := strings.Cut(string(m), "\r\n\r\n")
		if strings.Contains(head, "Subject: "+subjectWord) {
			subj++
		}
		if strings.Contains(string(m), "\n") && strings.Count(string(m), "\n") != strings.Count(string(m), "\r\n") {
			t.Fatalf("genMessage(%d) has a bare LF", i)
		}
	}
	if rare != 2000/rareEvery || subj != 2000/subjectEvery {
		t.Errorf("rare word in %d, subject word in %d of 2000; want %d and %d", rare, subj, 2000/rareEvery, 2000/subjectEvery)
	}
	if !bytes.Equal(genMessage(7, "a@b"), genMessage(7, "a@b")) {
		t.Errorf("genMessage(7) differs between calls")
	}
}
