package imap

import (
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"cote/storage/memstore"
)

// go-imap's imapclient against the extensions it speaks: SORT, THREAD,
// ESEARCH, STATUS with HIGHESTMODSEQ and SIZE, FETCH MODSEQ with
// CHANGEDSINCE, MOVE.
func TestIMAPClientExtensions(t *testing.T) {
	st := memstore.New()
	appendMsg(t, st, "INBOX", crlf("From: zed@example.com\nSubject: Re: plan\nMessage-ID: <b@x>\nReferences: <a@x>\nDate: Wed, 6 Mar 2024 10:00:00 +0000\n\nb\n"))
	appendMsg(t, st, "INBOX", crlf("From: amy@example.com\nSubject: plan\nMessage-ID: <a@x>\nDate: Tue, 5 Mar 2024 10:00:00 +0000\n\nlonger body a\n"))
	appendMsg(t, st, "INBOX", crlf("From: bob@example.com\nSubject: Re: Re: plan\nMessage-ID: <c@x>\nIn-Reply-To: <b@x>\nDate: Thu, 7 Mar 2024 10:00:00 +0000\n\nc\n"))
	c := dialClient(t, st, nil)
	for _, cp := range []imap.Cap{imap.CapSort, imap.CapESearch, imap.CapCondStore, imap.CapQResync, imap.CapIMAP4rev2} {
		if !c.Caps().Has(cp) {
			t.Errorf("missing capability %s", cp)
		}
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	sorted, err := c.Sort(&imapclient.SortOptions{
		SearchCriteria: &imap.SearchCriteria{},
		SortCriteria:   []imapclient.SortCriterion{{Key: imapclient.SortKeyFrom}},
	}).Wait()
	if err != nil || !slices.Equal(sorted, []uint32{2, 3, 1}) {
		t.Errorf("SORT (FROM) = %v, %v; want [2 3 1]", sorted, err)
	}
	sorted, err = c.Sort(&imapclient.SortOptions{
		SearchCriteria: &imap.SearchCriteria{},
		SortCriteria:   []imapclient.SortCriterion{{Key: imapclient.SortKeyDate, Reverse: true}},
	}).Wait()
	if err != nil || !slices.Equal(sorted, []uint32{3, 1, 2}) {
		t.Errorf("SORT (REVERSE DATE) = %v, %v; want [3 1 2]", sorted, err)
	}
	threads, err := c.Thread(&imapclient.ThreadOptions{Algorithm: imap.ThreadReferences, SearchCriteria: &imap.SearchCriteria{}}).Wait()
	if err != nil || len(threads) != 1 || !slices.Equal(threads[0].Chain, []uint32{2, 1, 3}) {
		t.Errorf("THREAD REFERENCES = %+v, %v; want one thread 2 1 3", threads, err)
	}
	sd, err := c.Search(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "plan"}}},
		&imap.SearchOptions{ReturnMin: true, ReturnMax: true, ReturnCount: true}).Wait()
	if err != nil || sd.Min != 1 || sd.Max != 3 || sd.Count != 3 {
		t.Errorf("SEARCH RETURN (MIN MAX COUNT) = %+v, %v", sd, err)
	}
	sdata, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, HighestModSeq: true, Size: true}).Wait()
	if err != nil || *sdata.NumMessages != 3 || sdata.HighestModSeq != 4 || sdata.Size == nil || *sdata.Size == 0 {
		t.Errorf("STATUS = %+v, %v", sdata, err)
	}
	if err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{UID: true, ModSeq: true, ChangedSince: 4}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 2 || msgs[0].ModSeq != 5 {
		t.Errorf("FETCH (CHANGEDSINCE 4) = %+v, %v", msgs, err)
	}
	if err := c.Create("Done", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move(imap.UIDSetNum(2), "Done").Wait(); err != nil {
		t.Fatalf("MOVE: %v", err)
	}
	sdata, err = c.Status("Done", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || *sdata.NumMessages != 1 {
		t.Errorf("STATUS Done = %+v, %v", sdata, err)
	}
}
