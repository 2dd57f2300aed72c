package imap

import "cote/storage"

// partFromCache builds the MIME structure FETCH ENVELOPE, BODYSTRUCTURE
// and HEADER.FIELDS need from what the store cached at save time
// (storage.CacheMailbox), so that the message itself is not read. The
// header holds only the fields storage.CachedField accepts, which are
// all the fields those items use.
func partFromCache(cp *storage.Part, inDigest bool) *part {
	p := &part{
		start:      int(cp.Start),
		bodyStart:  int(cp.BodyStart),
		end:        int(cp.End),
		lines:      cp.Lines,
		linesKnown: true,
	}
	p.header, _ = parseHeader(cp.Header, 0, len(cp.Header))
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
