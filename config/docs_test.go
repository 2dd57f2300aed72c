package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

const (
	docsPath   = "../docs/config.md"
	beginMark  = "<!-- BEGIN GENERATED: settings reference (go test ./config -run TestDocsCurrent -update) -->\n"
	endMark    = "<!-- END GENERATED -->\n"
	docsHeader = "| setting | default | meaning |\n|---|---|---|\n"
)

var kindTitles = map[string]string{
	"":              "Top-level settings",
	"service":       "`service NAME { }`",
	"inet_listener": "`inet_listener NAME { }` (inside a service)",
	"unix_listener": "`unix_listener PATH { }` (inside a service)",
	"passdb":        "`passdb [NAME] { }`",
	"userdb":        "`userdb [NAME] { }`",
	"namespace":     "`namespace NAME { }`",
	"mailbox":       "`mailbox NAME { }` (inside a namespace)",
}

var kindTypes = map[string]reflect.Type{
	"service": reflect.TypeFor[Service](), "inet_listener": reflect.TypeFor[InetListener](),
	"unix_listener": reflect.TypeFor[UnixListener](), "passdb": reflect.TypeFor[DB](), "userdb": reflect.TypeFor[DB](),
	"namespace": reflect.TypeFor[Namespace](), "mailbox": reflect.TypeFor[Mailbox](),
}

// reference renders the settings tables from the defaults table.
func reference() string {
	var b strings.Builder
	for _, kind := range sectionKinds {
		b.WriteString("### " + kindTitles[kind] + "\n\n" + docsHeader)
		var v reflect.Value
		if kind == "" {
			v = reflect.ValueOf(*Defaults())
		} else {
			v = newElem(kindTypes[kind], kind, "")
		}
		fs := fieldsOf(v.Type())
		for _, r := range table(kind) {
			f := fs[r.key]
			def := formatField(v.FieldByIndex(f.index), f)
			switch {
			case r.choices != "" && def == "":
				def = "(empty) (or " + strings.ReplaceAll(strings.Trim(r.choices, "|"), "|", ", ") + ")"
			case r.choices != "":
				def = "`" + def + "` (" + strings.ReplaceAll(strings.Trim(r.choices, "|"), "|", ", ") + ")"
			case def == "":
				def = "(empty)"
			default:
				def = "`" + def + "`"
			}
			doc := strings.ReplaceAll(r.doc, "|", "\\|")
			b.WriteString("| `" + r.key + "` | " + strings.ReplaceAll(def, "|", "\\|") + " | " + doc + " |\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestDocsCurrent checks that the reference tables in docs/config.md match
// the defaults table.
func TestDocsCurrent(t *testing.T) {
	b, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, beginMark), strings.Index(doc, endMark)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated-section markers", docsPath)
	}
	want := reference()
	if got := doc[i+len(beginMark) : j]; got != want {
		if *update {
			doc = doc[:i+len(beginMark)] + want + doc[j:]
			if err := os.WriteFile(docsPath, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("%s is out of date; run go test ./config -run TestDocsCurrent -update", docsPath)
	}
}

// TestDocsExamples parses every ```conf block of docs/config.md that is
// marked as a complete example.
func TestDocsExamples(t *testing.T) {
	b, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(b), "```conf complete\n")
	for n, p := range parts[1:] {
		text, _, _ := strings.Cut(p, "```")
		if _, err := ParseString("example", text); err != nil {
			t.Errorf("example %d does not parse: %v\n%s", n+1, err, text)
		}
	}
}
