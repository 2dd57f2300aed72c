package maildir

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// maxKeywords is the number of keyword letters (a-z) a file name can carry.
const maxKeywords = 26

// parseKeywords reads dovecot-keywords: lines "<index> <name>", index
// 0..25 for the file name letters a..z. Bad lines are skipped, as Dovecot
// does; the result has an entry (maybe "") for every index up to the last.
func parseKeywords(data []byte) []string {
	var kw []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		idx, name, ok := strings.Cut(sc.Text(), " ")
		n, err := strconv.Atoi(idx)
		if !ok || err != nil || n < 0 || n >= maxKeywords || name == "" || strings.ContainsAny(name, " \r") {
			continue
		}
		for len(kw) <= n {
			kw = append(kw, "")
		}
		kw[n] = name
	}
	return kw
}

func formatKeywords(kw []string) []byte {
	var b bytes.Buffer
	for i, k := range kw {
		if k != "" {
			fmt.Fprintf(&b, "%d %s\n", i, k)
		}
	}
	return b.Bytes()
}
