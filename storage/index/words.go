package index

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The full-text index is a word index: the text of a message is case
// mapped, cut into words (runs of letters, digits and combining marks),
// and each distinct word goes into FTS5 once per column. IMAP SEARCH
// matches substrings (RFC 9051 section 6.4.4), which a word index
// answers as follows. A query cut the same way into words w1..wn can
// only occur in a text where w2..wn-1 are whole words, w1 ends a word
// and wn begins one (a single word lies inside one). The words of the
// index that contain w1 and wn come from the vocabulary (the table
// terms), and the index gives the messages with all of them; for a
// query of one word these are exactly the matches, for longer queries
// the candidates are checked against their text.

// MaxTerm is the longest word, in bytes, the index keeps. A message
// with a longer one is left out of the index and always searched by
// reading it.
const MaxTerm = 128

// Fold maps text for case-insensitive matching: the i;unicode-casemap
// mapping (RFC 5051 section 2: titlecase, then compatibility
// decomposition), as the imap engine's SEARCH applies it, followed by
// lower case so that the ASCII words FTS5 keeps are in its own case.
// Both are applied character by character, so a substring of a text
// stays a substring after folding.
func Fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	t := norm.NFKD.String(strings.Map(unicode.ToTitle, strings.ToValidUTF8(s, "\uFFFD")))
	return strings.ToLower(t)
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r)
}

// splitWords calls fn for each word of folded text s, in order; first
// and last say whether s begins or ends inside the word (no separator
// before or after it).
func splitWords(s string, fn func(w string, first, last bool)) {
	start := -1
	for i, r := range s {
		if isWordRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			fn(s[start:i], start == 0, false)
			start = -1
		}
	}
	if start >= 0 {
		fn(s[start:], start == 0, true)
	}
}

// wordSet returns the distinct words of folded text s joined by spaces,
// as FTS5's ascii tokenizer splits them again, and whether every word
// fits MaxTerm. seen collects the words, each with bit set (so that
// the words of several texts can be told apart); a word already there
// with that bit is not repeated.
func wordSet(s string, seen map[string]uint8, bit uint8) (string, bool) {
	var b strings.Builder
	b.Grow(len(s) / 2)
	ok := true
	splitWords(s, func(w string, _, _ bool) {
		if len(w) > MaxTerm {
			ok = false
			return
		}
		if seen[w]&bit != 0 {
			return
		}
		seen[w] |= bit
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	})
	return b.String(), ok
}

// wordKind says how a word of a query lies in a word of a text that
// contains the query.
type wordKind int

const (
	wordWhole  wordKind = iota // the whole word: separators on both sides in the query
	wordPrefix                 // its start: the query's last word
	wordSuffix                 // its end: the query's first word
	wordInside                 // anywhere in it: a query of one word
)

// wordClause is one condition on the words of a text that contains a
// query: some word w relates to as kind says.
type wordClause struct {
	w    string
	kind wordKind
}

// matches reports whether a word of a text satisfies c.
func (c wordClause) matches(term string) bool {
	switch c.kind {
	case wordWhole:
		return term == c.w
	case wordPrefix:
		return strings.HasPrefix(term, c.w)
	case wordSuffix:
		return strings.HasSuffix(term, c.w)
	}
	return strings.Contains(term, c.w)
}

// planQuery returns the conditions every text that contains folded
// query fq satisfies (words.go's opening comment). Parts of words under
// MinQuery characters match too many words to be of use and are left
// out. exact is true when the conditions are also sufficient: a query
// of one word and nothing else.
func planQuery(fq string) (plan []wordClause, exact bool) {
	var words []wordClause
	splitWords(fq, func(w string, first, last bool) {
		k := wordWhole
		switch {
		case first && last:
			k = wordInside
		case first:
			k = wordSuffix
		case last:
			k = wordPrefix
		}
		words = append(words, wordClause{w, k})
	})
	exact = len(words) == 1 && words[0].w == fq
	for _, c := range words {
		if c.kind != wordWhole && utf8.RuneCountInString(c.w) < MinQuery {
			exact = false
			continue
		}
		plan = append(plan, c)
	}
	return plan, exact
}
