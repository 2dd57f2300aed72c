package imap

import (
	"bytes"
	"strings"
)

// writeBodyStructure writes BODYSTRUCTURE (ext true) or BODY (RFC 3501
// section 7.4.2, section 9 "body"). raw may be nil when p came from the
// store's cache.
func writeBodyStructure(e *enc, raw []byte, p *part, ext bool) {
	if p.isMultipart() {
		e.open()
		if len(p.children) == 0 {
			// A multipart needs a part (RFC 3501 "body-type-mpart"):
			// an empty text/plain stands in, as Dovecot does.
			e.raw(`("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0`)
			if ext {
				e.raw(" NIL NIL NIL NIL")
			}
			e.close()
		}
		for _, c := range p.children {
			writeBodyStructure(e, raw, c, ext)
		}
		e.sp().str(p.sub)
		if ext {
			e.sp()
			writeParams(e, p.params)
			e.sp()
			writeExtension(e, p)
		}
		e.close()
		return
	}
	e.open().str(p.typ).sp().str(p.sub).sp()
	writeParams(e, p.params)
	id, hasID := p.get("Content-ID")
	desc, hasDesc := p.get("Content-Description")
	e.sp().nstr(id, hasID).sp().nstr(desc, hasDesc).sp()
	if cte, ok := p.get("Content-Transfer-Encoding"); ok && cte != "" {
		e.str(stripComments(cte))
	} else {
		e.str("7bit")
	}
	e.sp().num(uint32(p.end - p.bodyStart))
	switch {
	case p.isMessage():
		e.sp()
		writeEnvelope(e, p.msg)
		e.sp()
		writeBodyStructure(e, raw, p.msg, ext)
		e.sp().num(p.lineCount(raw))
	case p.isType("text", ""):
		e.sp().num(p.lineCount(raw))
	}
	if ext {
		md5, hasMD5 := p.get("Content-MD5")
		e.sp().nstr(md5, hasMD5).sp()
		writeExtension(e, p)
	}
	e.close()
}

// writeExtension writes body-fld-dsp SP body-fld-lang SP body-fld-loc.
func writeExtension(e *enc, p *part) {
	if v, ok := p.get("Content-Disposition"); ok {
		v = stripComments(v)
		typ, rest, _ := strings.Cut(v, ";")
		typ = strings.TrimSpace(typ)
		if typ != "" {
			e.open().str(typ).sp()
			writeParams(e, parseParams(rest))
			e.close()
		} else {
			e.nil()
		}
	} else {
		e.nil()
	}
	e.sp()
	var langs []string
	if v, ok := p.get("Content-Language"); ok {
		for l := range strings.SplitSeq(stripComments(v), ",") {
			if l = strings.TrimSpace(l); l != "" {
				langs = append(langs, l)
			}
		}
	}
	switch len(langs) {
	case 0:
		e.nil()
	case 1:
		e.str(langs[0])
	default:
		e.open()
		for i, l := range langs {
			if i > 0 {
				e.sp()
			}
			e.str(l)
		}
		e.close()
	}
	loc, hasLoc := p.get("Content-Location")
	e.sp().nstr(loc, hasLoc)
}

func writeParams(e *enc, params []param) {
	if len(params) == 0 {
		e.nil()
		return
	}
	e.open()
	for i, pr := range params {
		if i > 0 {
			e.sp()
		}
		e.str(pr.name).sp().str(pr.value)
	}
	e.close()
}

// countLines counts body lines: line ends, plus a last line without one.
func countLines(b []byte) uint32 {
	n := bytes.Count(b, []byte("\n"))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return uint32(n)
}
