package pkgtest

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"cote/config"
)

// docBase is what each ```conf fragment of the admin guide is added to:
// a configuration that is valid on its own, so that a fragment that shows
// one topic is checked in a whole configuration.
const docBase = `ssl = no
passdb {
  driver = static
}
userdb {
  driver = static
  args = uid=#5000 gid=#5000 home=/var/vmail/%u
}
`

var fileValue = regexp.MustCompile(`(?m)^(\s*\w+\s*=\s*)<(\S+)`)

// TestDocsConfExamples parses every ```conf block of docs/admin (and every
// ```conf complete block anywhere in docs/): fragments on top of docBase,
// complete ones alone. `<file` values are pointed at a certificate or key
// the test makes.
func TestDocsConfExamples(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, cert, key)
	files, _ := filepath.Glob(filepath.Join(repo, "docs/admin/*.md"))
	others, _ := filepath.Glob(filepath.Join(repo, "docs/*.md"))
	if len(files) < 8 {
		t.Fatalf("only %d pages in docs/admin", len(files))
	}
	n := 0
	for _, f := range append(files, others...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		admin := filepath.Base(filepath.Dir(f)) == "admin"
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			tag := strings.TrimSpace(lines[i])
			complete := tag == "```conf complete"
			if !complete && (tag != "```conf" || !admin) {
				continue
			}
			start := i + 1
			var block []string
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
				block = append(block, lines[i])
			}
			n++
			text := strings.Join(block, "\n") + "\n"
			text = fileValue.ReplaceAllStringFunc(text, func(m string) string {
				sub := fileValue.FindStringSubmatch(m)
				if strings.Contains(sub[2], "key") {
					return sub[1] + "<" + key
				}
				return sub[1] + "<" + cert
			})
			if !complete {
				text = docBase + text
			}
			name := filepath.Base(f) + ":" + strconv.Itoa(start)
			if _, err := config.ParseString(name, text); err != nil {
				t.Errorf("%s: the example does not parse: %v\n%s", f, err, text)
			}
		}
	}
	if n < 10 {
		t.Errorf("found only %d configuration examples", n)
	}
}
