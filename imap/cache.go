package imap

import (
	"encoding/binary"

	"cote/storage"
)

// partFromCache builds the MIME structure FETCH ENVELOPE, BODYSTRUCTURE
// and HEADER.FIELDS need from what the store cached at save time
// (storage.CacheMailbox), so that the message itself is not read. The
// header holds only the fields storage.CachedField accepts, which are
// all the fields those items use.
func partFromCache(cp *storage.Part, inDigest bool) *part {
	p := headerFromCache(cp)
	p.setType(inDigest)
	switch {
	case p.isType("multipart", ""):
		p.children = make([]*part, 0, len(cp.Children))
		digest := p.isType("multipart", "digest")
		for i := range cp.Children {
			p.children = append(p.children, partFromCache(&cp.Children[i], digest))
		}
	case cp.Message != nil:
		p.msg = partFromCache(cp.Message, false)
	}
	return p
}

// headerFromCache is partFromCache of the top-level header alone, for
// BODY[HEADER.FIELDS (...)] (section.extract without a part number): it
// has no content type and no parts.
func headerFromCache(cp *storage.Part) *part {
	p := &part{
		start:      int(cp.Start),
		bodyStart:  int(cp.BodyStart),
		end:        int(cp.End),
		lines:      cp.Lines,
		linesKnown: true,
	}
	p.header, _ = parseHeader(cp.Header, 0, len(cp.Header))
	return p
}

// wireVersion is the version of the ENVELOPE and BODYSTRUCTURE encoding
// the index keeps (storage.CacheEncodeMailbox). Bump it whenever
// writeEnvelope or writeBodyStructure (or anything they call) changes
// its output for some message: rows of another version are encoded anew
// on their next FETCH. TestWireVersion fails when the output for its
// messages changes.
const wireVersion = 1

// encodeWire is the encoding the index keeps of a cached structure:
// the version byte, the ENVELOPE and the BODYSTRUCTURE as they go on the
// wire, and the ENVELOPE's length in four bytes, big-endian.
//
// It runs on the store's goroutines (storage.CacheEncodeMailbox), where
// no session recovers a panic: a structure it cannot encode gets no
// encoding (nil), and FETCH encodes it in the session.
func encodeWire(p *storage.Part) (wire []byte) {
	defer func() {
		if recover() != nil {
			wire = nil
		}
	}()
	root := partFromCache(p, false)
	e := &enc{b: make([]byte, 1, 768)}
	e.b[0] = wireVersion
	writeEnvelope(e, root)
	n := len(e.b) - 1
	writeBodyStructure(e, nil, root, true)
	return binary.BigEndian.AppendUint32(e.b, uint32(n))
}

// splitWire returns the ENVELOPE and BODYSTRUCTURE of an encodeWire
// result; ok is false for another version or bytes that do not fit.
func splitWire(w []byte) (envelope, bodyStructure []byte, ok bool) {
	if len(w) < 5 || w[0] != wireVersion {
		return nil, nil, false
	}
	n := int64(binary.BigEndian.Uint32(w[len(w)-4:]))
	body := w[1 : len(w)-4]
	if n == 0 || n >= int64(len(body)) {
		return nil, nil, false
	}
	return body[:n:n], body[n:], true
}
