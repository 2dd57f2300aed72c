package sieve

import (
	"bytes"
	"io"
	"strings"

	"github.com/emersion/go-message"
)

// maxBodyBytes bounds how much of a body or body part the body test reads.
const maxBodyBytes = 16 << 20

// bodyCache keeps the body parts of one run's message.
type bodyCache struct {
	raw   *string
	parts []bodyPart
	err   error
	done  bool
}

type bodyPart struct {
	mediaType string // lowercased type/subtype
	content   string // transfer-decoded; text parts also converted to UTF-8
}

// bodyTest is RFC 5173 section 5.
func (r *run) bodyTest(n *node) (bool, error) {
	if r.body == nil {
		r.body = &bodyCache{}
	}
	keys := r.expandList(n.args[0].Strs)
	if n.hasTag("raw") {
		raw, err := r.rawBody()
		if err != nil {
			return false, err
		}
		return r.match(n.match, []string{raw}, keys)
	}
	parts, err := r.bodyParts()
	if err != nil {
		return false, err
	}
	var types []string
	if a, ok := n.tag("content"); ok {
		types = r.expandList(a.Strs)
	} else {
		types = []string{"text"} // :text
	}
	var values []string
	for _, p := range parts {
		if contentTypeMatches(p.mediaType, types) {
			if err := r.step(); err != nil {
				return false, err
			}
			values = append(values, p.content)
		}
	}
	return r.match(n.match, values, keys)
}

// contentTypeMatches implements :content's type list (RFC 5173 section
// 5.2): "" matches every type, "type" a whole top-level type, and
// "type/subtype" exactly.
func contentTypeMatches(mediaType string, types []string) bool {
	for _, t := range types {
		t = strings.ToLower(strings.TrimSpace(t))
		switch {
		case t == "":
			return true
		case strings.Contains(t, "/"):
			if t == mediaType {
				return true
			}
		case strings.HasPrefix(mediaType, t+"/"):
			return true
		}
	}
	return false
}

func (r *run) rawBody() (string, error) {
	if r.body.raw != nil {
		return *r.body.raw, nil
	}
	body, err := r.msg.Body()
	if err != nil {
		return "", r.envErr("body", err)
	}
	b, err := io.ReadAll(io.LimitReader(body, maxBodyBytes))
	if err != nil {
		return "", r.envErr("body", err)
	}
	s := string(b)
	r.body.raw = &s
	return s, nil
}

// bodyParts walks the MIME structure once per run. A part that cannot
// be decoded is used as it is rather than failing the script.
func (r *run) bodyParts() ([]bodyPart, error) {
	if r.body.done {
		return r.body.parts, r.body.err
	}
	r.body.done = true
	var hb bytes.Buffer
	for _, f := range r.msg.Header() {
		hb.WriteString(f.Name + ": " + f.Value + "\r\n")
	}
	hb.WriteString("\r\n")
	body, err := r.msg.Body()
	if err != nil {
		r.body.err = r.envErr("body", err)
		return nil, r.body.err
	}
	e, err := message.Read(io.MultiReader(&hb, io.LimitReader(body, maxBodyBytes)))
	if e == nil {
		raw, rerr := r.rawBody()
		if rerr != nil {
			return nil, rerr
		}
		r.body.parts = []bodyPart{{mediaType: "text/plain", content: raw}}
		return r.body.parts, nil
	}
	_ = err // unknown charset or encoding: read what we can
	r.body.parts = collectParts(e, 0)
	return r.body.parts, nil
}

const maxMIMEDepth = 16

func collectParts(e *message.Entity, depth int) []bodyPart {
	t, _, err := e.Header.ContentType()
	if err != nil || t == "" {
		t = "text/plain"
	}
	t = strings.ToLower(t)
	if mr := e.MultipartReader(); mr != nil && depth < maxMIMEDepth {
		var out []bodyPart
		for {
			p, _ := mr.NextPart()
			if p == nil {
				break
			}
			out = append(out, collectParts(p, depth+1)...)
		}
		return out
	}
	b, _ := io.ReadAll(io.LimitReader(e.Body, maxBodyBytes))
	part := bodyPart{mediaType: t, content: string(b)}
	if t == "message/rfc822" && depth < maxMIMEDepth {
		if inner, err := message.Read(bytes.NewReader(b)); inner != nil && err == nil {
			return append([]bodyPart{part}, collectParts(inner, depth+1)...)
		}
	}
	return []bodyPart{part}
}
