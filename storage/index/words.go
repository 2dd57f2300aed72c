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

// textWordSet is wordSet of Fold(s). ASCII text, the most common, is
// cut and lower-cased word by word without folding a copy of all of it,
// and its words are looked up in a small table of recent words before
// seen: most words of a text are repeats, and the table is cheaper than
// the map.
func textWordSet(s string, seen map[string]uint8, bit uint8) (string, bool) {
	if !isASCII(s) {
		return wordSet(Fold(s), seen, bit)
	}
	var b strings.Builder
	var lower [MaxTerm]byte
	var recent [256]struct {
		w    string
		bits uint8
	}
	ok := true
	for i := 0; i < len(s); {
		for i < len(s) && !isASCIIWordByte(s[i]) {
			i++
		}
		start, upper := i, false
		for i < len(s) && isASCIIWordByte(s[i]) {
			upper = upper || 'A' <= s[i] && s[i] <= 'Z'
			i++
		}
		w := s[start:i]
		if len(w) == 0 {
			continue
		}
		if len(w) > MaxTerm {
			ok = false
			continue
		}
		// A hash of the word, the same in either case.
		h := byte(len(w)*7) ^ (w[0] | 0x20) ^ (w[len(w)-1]|0x20)<<2 ^ (w[len(w)/2]|0x20)<<4
		r := &recent[h]
		var v uint8
		if upper {
			for k := range len(w) {
				lower[k] = asciiLowerByte(w[k])
			}
			// Looked up without a copy; copied once, when new.
			if r.w == string(lower[:len(w)]) {
				v = r.bits
			} else {
				v = seen[string(lower[:len(w)])]
			}
			if v&bit != 0 {
				continue
			}
			w = string(lower[:len(w)])
		} else {
			if r.w == w {
				v = r.bits
			} else {
				v = seen[w]
				r.w, r.bits = w, v
			}
			if v&bit != 0 {
				continue
			}
		}
		seen[w] = v | bit
		r.w, r.bits = w, v|bit
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	return b.String(), ok
}

func isASCIIWordByte(c byte) bool {
	return 'a' <= c|0x20 && c|0x20 <= 'z' || '0' <= c && c <= '9'
}

func asciiLowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// isASCII reports whether s is all ASCII, 32 bytes at a time (a text
// the size of a message is checked before each search of it).
func isASCII[T string | []byte](s T) bool {
	i := 0
	for ; i+32 <= len(s); i += 32 {
		if (load64(s, i)|load64(s, i+8)|load64(s, i+16)|load64(s, i+24))&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// load64 returns the eight bytes of s at i as a little-endian number;
// the compiler makes it one load.
func load64[T string | []byte](s T, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// containsFolded reports whether Fold(s) contains fq, a folded query.
// ASCII text folds byte by byte to lower case, so it is searched in
// place, without a folded copy.
func containsFolded(s, fq string) bool {
	if !isASCII(s) {
		return strings.Contains(Fold(s), fq)
	}
	if fq == "" {
		return true
	}
	if !isASCII(fq) {
		return false // ASCII text folds to ASCII
	}
	// Candidates start with fq's first byte in either case; the next of
	// each case is kept so that the text is scanned once for each.
	c := fq[0]
	u := c
	if 'a' <= c && c <= 'z' {
		u = c - 'a' + 'A'
	}
	nextC, nextU := -1, -1
	for at := 0; at+len(fq) <= len(s); {
		if nextC < at {
			nextC = indexByteFrom(s, c, at)
		}
		if nextU < at {
			nextU = indexByteFrom(s, u, at)
		}
		i := min(nextC, nextU)
		if i+len(fq) > len(s) {
			return false
		}
		if strings.EqualFold(s[i:i+len(fq)], fq) { // both ASCII
			return true
		}
		at = i + 1
	}
	return false
}

// indexByteFrom is strings.IndexByte of s[from:], as an index of s;
// len(s) when there is none.
func indexByteFrom(s string, c byte, from int) int {
	i := strings.IndexByte(s[from:], c)
	if i < 0 {
		return len(s) // none: never a candidate again
	}
	return from + i
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
