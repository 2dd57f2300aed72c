package storagetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"cote/storage"
)

// testConcurrency runs appenders, flag changers, expungers, pollers and
// mailbox list changes at once (run with -race), then checks that every
// appended UID was unique and that the sessions agree with Status.
func testConcurrency(t *testing.T, s storage.Store) {
	const writers, perWriter = 4, 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := make(map[uint32]bool)
	errs := make(chan error, 100)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				body := fmt.Sprintf("Subject: %d-%d\r\n\r\nbody\r\n", w, i)
				_, uid, err := s.Append("INBOX", strings.NewReader(body), storage.AppendOptions{})
				if err != nil {
					errs <- fmt.Errorf("append: %w", err)
					return
				}
				mu.Lock()
				if seen[uid] {
					errs <- fmt.Errorf("UID %d given twice", uid)
				}
				seen[uid] = true
				mu.Unlock()
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mb, err := s.Open("INBOX", false)
			if err != nil {
				errs <- err
				return
			}
			defer mb.Close()
			for range 20 {
				if _, err := mb.Poll(); err != nil {
					errs <- fmt.Errorf("poll: %w", err)
					return
				}
				var uids []uint32
				for _, m := range mb.Messages() {
					if m.UID%3 == 0 {
						uids = append(uids, m.UID)
					}
					// An error is allowed: another session may have expunged it.
					if rc, err := mb.Read(m.UID); err == nil {
						rc.Close()
					}
				}
				if _, err := mb.Store(uids, storage.FlagsAdd, []string{storage.FlagDeleted, "$k"}, 0); err != nil {
					errs <- fmt.Errorf("store: %w", err)
					return
				}
				if _, err := mb.Expunge(nil); err != nil {
					errs <- fmt.Errorf("expunge: %w", err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 10 {
			n := fmt.Sprintf("C%d", i)
			if err := s.Create(n, nil); err != nil {
				errs <- err
				return
			}
			if _, err := s.List(); err != nil {
				errs <- err
				return
			}
			if _, err := s.Status("INBOX"); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(seen) != writers*perWriter {
		t.Errorf("%d UIDs, want %d", len(seen), writers*perWriter)
	}
	mb := mustOpen(t, s, "INBOX", false)
	st, err := mb.Status()
	if err != nil {
		t.Fatal(err)
	}
	if int(st.Messages) != len(mb.Messages()) {
		t.Errorf("Status.Messages = %d, snapshot has %d", st.Messages, len(mb.Messages()))
	}
	for _, m := range mb.Messages() {
		if !seen[m.UID] {
			t.Errorf("unknown UID %d", m.UID)
		}
	}
}
