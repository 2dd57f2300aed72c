package maildir

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"cote/storage/internal/mailstate"
)

// stateFile keeps what Dovecot keeps in its index and cote needs across
// restarts: MODSEQs, save dates, the first \Recent UID and the expunge
// history for QRESYNC. The Maildir and dovecot-uidlist stay the truth; a
// lost state file costs only MODSEQ continuity.
//
//	cote-state 1 V<uidvalidity> M<highestmodseq> R<recentfrom> H<historyfrom>
//	<uid> <modseq> <savedate unix> <info letters or ->
//	x <uid> <modseq>
const stateFile = "cote-state"

// maxExpungeHistory bounds the expunge history kept for QRESYNC.
const maxExpungeHistory = 10000

type savedMsg struct {
	modseq   uint64
	saveDate int64
	info     string
}

type savedState struct {
	uidValidity uint32
	modseq      uint64
	recentFrom  uint32
	historyFrom uint64
	msgs        map[uint32]savedMsg
	expunges    []mailstate.Expunged
}

func parseState(data []byte) (*savedState, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	if !sc.Scan() {
		return nil, false
	}
	hdr := strings.Fields(sc.Text())
	if len(hdr) != 6 || hdr[0] != "cote-state" || hdr[1] != "1" {
		return nil, false
	}
	st := &savedState{msgs: make(map[uint32]savedMsg)}
	for _, f := range hdr[2:] {
		n, err := strconv.ParseUint(f[1:], 10, 64)
		if err != nil {
			return nil, false
		}
		switch f[0] {
		case 'V':
			st.uidValidity = uint32(n)
		case 'M':
			st.modseq = n
		case 'R':
			st.recentFrom = uint32(n)
		case 'H':
			st.historyFrom = n
		}
	}
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "x" {
			uid, err1 := strconv.ParseUint(f[1], 10, 32)
			ms, err2 := strconv.ParseUint(f[2], 10, 64)
			if err1 != nil || err2 != nil {
				return nil, false
			}
			st.expunges = append(st.expunges, mailstate.Expunged{UID: uint32(uid), ModSeq: ms})
			continue
		}
		if len(f) != 4 {
			return nil, false
		}
		uid, err1 := strconv.ParseUint(f[0], 10, 32)
		ms, err2 := strconv.ParseUint(f[1], 10, 64)
		sd, err3 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, false
		}
		info := f[3]
		if info == "-" {
			info = ""
		}
		st.msgs[uint32(uid)] = savedMsg{modseq: ms, saveDate: sd, info: info}
	}
	return st, sc.Err() == nil
}

func formatState(b *mailstate.Box) []byte {
	if n := len(b.Expunges) - maxExpungeHistory; n > 0 {
		b.HistoryFrom = max(b.HistoryFrom, b.Expunges[n-1].ModSeq)
		b.Expunges = append([]mailstate.Expunged(nil), b.Expunges[n:]...)
	}
	var w bytes.Buffer
	fmt.Fprintf(&w, "cote-state 1 V%d M%d R%d H%d\n", b.UIDValidity, b.ModSeq, b.RecentFrom, b.HistoryFrom)
	for _, m := range b.Msgs {
		info := "-"
		if mm, ok := m.Ext.(*mmsg); ok {
			if i := parseFileName(mm.name).Flags; i != "" {
				info = i
			}
		}
		fmt.Fprintf(&w, "%d %d %d %s\n", m.UID, m.ModSeq, m.SaveDate.Unix(), info)
	}
	for _, x := range b.Expunges {
		fmt.Fprintf(&w, "x %d %d\n", x.UID, x.ModSeq)
	}
	return w.Bytes()
}

func readState(dir string) *savedState {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil
	}
	st, ok := parseState(data)
	if !ok {
		return nil
	}
	return st
}
