package index

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPlanQuery(t *testing.T) {
	tests := []struct {
		q     string
		plan  []wordClause
		exact bool
	}{
		{"Xylophone", []wordClause{{"xylophone", wordInside}}, true},
		{"lo wor", []wordClause{{"wor", wordPrefix}}, false}, // "lo" is too short to narrow
		{"lo w", nil, false},
		{"hello world", []wordClause{{"hello", wordSuffix}, {"world", wordPrefix}}, false},
		{"a big deal", []wordClause{{"big", wordWhole}, {"deal", wordPrefix}}, false},
		{"zebra&quagga", []wordClause{{"zebra", wordSuffix}, {"quagga", wordPrefix}}, false},
		{" zebra ", []wordClause{{"zebra", wordWhole}}, false},
		{"zebra-", []wordClause{{"zebra", wordSuffix}}, false},
		{"@#!", nil, false},
		{"Grüße", []wordClause{{Fold("Grüße"), wordInside}}, true},
	}
	for _, tt := range tests {
		plan, exact := planQuery(Fold(tt.q))
		if !slices.Equal(plan, tt.plan) || exact != tt.exact {
			t.Errorf("planQuery(%q) = %v, %v; want %v, %v", tt.q, plan, exact, tt.plan, tt.exact)
		}
	}
}

// checkPlan checks planQuery's promise on one text and query: a text
// that contains the query satisfies every condition, and when the plan is
// exact a text that satisfies them contains the query.
func checkPlan(t *testing.T, text, query string) {
	ft, fq := Fold(text), Fold(query)
	words, _ := wordSet(ft, make(map[string]uint8), 1)
	terms := strings.Fields(words)
	plan, exact := planQuery(fq)
	all := true
	for _, c := range plan {
		if !slices.ContainsFunc(terms, c.matches) {
			all = false
		}
	}
	contains := strings.Contains(ft, fq)
	if contains && !all {
		t.Fatalf("text %q contains %q, but the plan %v misses it", text, query, plan)
	}
	if exact && all && !contains {
		t.Fatalf("exact plan %v for %q matches text %q, which does not contain it", plan, query, text)
	}
}

func FuzzWordIndex(f *testing.F) {
	f.Add("Subject: Schöne Grüße aus Köln", "grüße aus")
	f.Add("hello world, hello zebra&quagga", "lo zebra&qua")
	f.Add("ǅemal and ﬁne ligatures", "fine")
	f.Add("x\u0301yz", "xyz")
	f.Fuzz(func(t *testing.T, text, query string) {
		if len(text) > 4096 || len(query) > 256 {
			return
		}
		checkPlan(t, text, query)
	})
}

func TestSearchWords(t *testing.T) {
	d, _, err := Open(filepath.Join(t.TempDir(), "i.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	texts := []Text{
		{Header: "Subject: Schöne Grüße\n", Body: "aus Köln, xylophonically speaking\n"},
		{Header: "Subject: plain\n", Body: "hello world of zebra&quagga\n"},
		{Header: "Subject: other\n", Body: "worldly hellos\n"},
	}
	tx, _ := d.Begin()
	b := Box{Name: "INBOX", UIDValidity: 1, UIDNext: 4, ModSeq: 1}
	if err := tx.PutBox(&b); err != nil {
		t.Fatal(err)
	}
	cs := make(map[uint32]Content)
	for i, txt := range texts {
		uid := uint32(i + 1)
		if err := tx.PutMsg(b.ID, Msg{UID: uid, File: "f", InternalDate: time.Unix(0, 0), SaveDate: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		cs[uid] = Content{Text: &txt}
	}
	if err := tx.PutContents(b.ID, cs); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		q              string
		body           bool
		want           []uint32
		narrowed, exac bool
	}{
		{"PHONIC", false, []uint32{1}, true, true},
		{"grüße", false, []uint32{1}, true, true},
		{"grüße", true, nil, true, true},
		{"lo wor", false, []uint32{2, 3}, true, false}, // candidates: "worldly" too
		{"lo w", false, nil, false, false},
		{"hello world", true, []uint32{2}, true, false},
		{"llo worl", true, []uint32{2}, true, false},
		{"zebra&quagga", true, []uint32{2}, true, false},
		{"nowhere", false, nil, true, true},
	}
	for _, tt := range tests {
		got, narrowed, exact, err := d.Search(b.ID, tt.q, tt.body)
		if err != nil || !slices.Equal(got, tt.want) || narrowed != tt.narrowed || exact != tt.exac {
			t.Errorf("Search(%q, %v) = %v, %v, %v, %v; want %v, %v, %v", tt.q, tt.body, got, narrowed, exact, err,
				tt.want, tt.narrowed, tt.exac)
		}
	}
	if got, narrowed, err := d.SearchHeader(b.ID, "plai"); err != nil || !narrowed || !slices.Equal(got, []uint32{2}) {
		t.Errorf("SearchHeader(plai) = %v, %v, %v", got, narrowed, err)
	}
}

// TestMigrateV1 opens an index of schema version 1 (with the trigram
// full-text index): every row stays, with its MODSEQ, and the texts are
// to be indexed again.
func TestMigrateV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "i.db")
	v1, err := os.ReadFile("testdata/schema-v1.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{string(v1),
		`INSERT INTO mailboxes (name, uidvalidity, uidnext, highestmodseq, historyfrom, recentfrom) VALUES ('INBOX', 7, 3, 42, 5, 2)`,
		`INSERT INTO messages (mailbox, uid, file, flags, modseq, internaldate, savedate, size, indexed) VALUES (1, 2, 'f:2,S', '\Seen', 41, 0, 0, 10, 1)`,
		`INSERT INTO fts (rowid, hdr, body) VALUES (1, 'Subject: x', 'zebra')`,
		`INSERT INTO expunged (mailbox, uid, modseq) VALUES (1, 1, 40)`,
		`PRAGMA user_version = 1`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	d, fresh, err := Open(path, Options{})
	if err != nil || fresh {
		t.Fatalf("Open = %v, fresh %v", err, fresh)
	}
	defer d.Close()
	b, msgs, exp, ok, err := d.LoadBox("INBOX")
	if err != nil || !ok || b.ModSeq != 42 || b.UIDNext != 3 || b.HistoryFrom != 5 || len(msgs) != 1 ||
		msgs[0].ModSeq != 41 || len(exp) != 1 || exp[0].ModSeq != 40 {
		t.Fatalf("after migration: %+v %+v %+v %v %v", b, msgs, exp, ok, err)
	}
	var version int
	d.db.QueryRow("PRAGMA user_version").Scan(&version)
	todo, _, err := d.Unindexed(b.ID)
	if version != schemaVersion || err != nil || !slices.Equal(todo, []uint32{2}) {
		t.Errorf("version %d, unindexed %v, %v", version, todo, err)
	}
	// Expunging works with the new full-text table's trigger.
	tx, _ := d.Begin()
	if err := tx.Expunge(b.ID, 2, 43); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
