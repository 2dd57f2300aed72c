package imap

import "cote/storage"

// prepareHeaderSearch asks the store's index for the candidates of every
// SUBJECT key, and of HEADER keys on fields other than addresses
// (storage.HeaderSearchMailbox); the candidates are then checked as
// without it (RFC 9051 section 6.4.4). Address fields are left out: they
// also match in their normalized form (normalizedAddresses), which the
// index does not promise to cover.
func (s *session) prepareHeaderSearch(prog *searchKey) error {
	hs, ok := s.mbox.(storage.HeaderSearchMailbox)
	if !ok {
		return nil
	}
	var err error
	walkKeys(prog, func(k *searchKey) {
		q := k.str
		if k.op == "HEADER" {
			if isAddressField(k.str) {
				return
			}
			q = k.str2
		}
		if (k.op != "SUBJECT" && k.op != "HEADER") || err != nil || q == "" {
			return
		}
		uids, e := hs.SearchHeader(q)
		if e != nil {
			err = e
			return
		}
		k.fts, k.ftsExact = make(map[uint32]bool, len(uids)), false
		for _, u := range uids {
			k.fts[u] = true
		}
	})
	return err
}
