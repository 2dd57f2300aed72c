package imap

import (
	"strings"
)

// baseSubject extracts the base subject (RFC 5256 section 2.1) from a
// Subject value: encoded-words decoded, white space collapsed, trailers
// "(fwd)", leaders "Re:", "Fw:", "Fwd:" and "[blob]", and the
// "[fwd: ...]" wrapper removed. isReply reports that something of the
// kind was removed (section 2.1 step 6, used by THREAD=REFERENCES).
func baseSubject(v string) (base string, isReply bool) {
	// Step 1: decode, and collapse white space to single spaces.
	s := strings.Join(strings.Fields(decodeHeaderValue(v)), " ")
	for {
		// Step 2: remove trailers.
		for {
			t := strings.TrimRight(s, " ")
			if len(t) >= 5 && strings.EqualFold(t[len(t)-5:], "(fwd)") {
				t = t[:len(t)-5]
				isReply = true
			}
			if t == s {
				break
			}
			s = t
		}
		// Steps 3 and 4: remove leaders and blobs until neither
		// changes the subject.
		for {
			before := s
			s = strings.TrimLeft(s, " ")
			if rest, ok := cutRefwd(s); ok {
				s = rest
				isReply = true
			}
			if strings.HasPrefix(s, "[") {
				if rest, ok := cutBlob(s); ok && strings.TrimSpace(rest) != "" {
					s = rest
				}
			}
			if s == before {
				break
			}
		}
		// Step 5: "[fwd:" subject "]".
		if len(s) >= 6 && strings.EqualFold(s[:5], "[fwd:") && strings.HasSuffix(s, "]") {
			s = s[5 : len(s)-1]
			isReply = true
			continue
		}
		break
	}
	return s, isReply
}

// cutBlob removes a leading subj-blob: "[" *BLOBCHAR "]" *WSP.
func cutBlob(s string) (string, bool) {
	end := strings.IndexAny(s[1:], "[]")
	if end < 0 || s[1+end] != ']' {
		return s, false
	}
	return strings.TrimLeft(s[end+2:], " "), true
}

// cutRefwd removes a leading subj-refwd with its blobs:
// *subj-blob ("re" / "fw" ["d"]) *WSP [subj-blob] ":".
func cutRefwd(s string) (string, bool) {
	t := s
	for strings.HasPrefix(t, "[") {
		rest, ok := cutBlob(t)
		if !ok {
			return s, false
		}
		t = rest
	}
	lower := strings.ToLower(t)
	switch {
	case strings.HasPrefix(lower, "fwd"):
		t = t[3:]
	case strings.HasPrefix(lower, "fw"), strings.HasPrefix(lower, "re"):
		t = t[2:]
	default:
		return s, false
	}
	t = strings.TrimLeft(t, " ")
	if strings.HasPrefix(t, "[") {
		rest, ok := cutBlob(t)
		if !ok {
			return s, false
		}
		t = rest
	}
	if !strings.HasPrefix(t, ":") {
		return s, false
	}
	return t[1:], true
}
