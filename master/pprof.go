package master

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"cote/admin"
	"cote/profiling"
	"cote/proto"
)

// pprofState tracks the profiles asked of children (coteadm pprof,
// admin_pprof).
type pprofState struct {
	seq uint64 // the last proto.Profile Seq; the event loop's

	mu      sync.Mutex // guards waiting
	waiting map[uint64]chan *proto.ProfileReply
}

// pprofGrace is how long after its duration a profile may take to arrive.
const pprofGrace = 30 * time.Second

// adminPprof answers coteadm pprof on the event loop: it profiles the
// master itself, or sends proto.Profile with the write end of a pipe to the
// process asked for and answers once the profile has been read and the
// process has confirmed it.
func (m *Master) adminPprof(req *admin.Request, c net.Conn) {
	if !m.cfg.AdminPprof {
		answer(c, admin.Errorf("pprof: profiling is off (admin_pprof = no)"))
		return
	}
	t, err := admin.ParsePprof(req)
	if err == nil {
		err = checkPprof(&t)
	}
	if err != nil {
		answer(c, admin.Errorf("%v", err))
		return
	}
	d := time.Duration(t.Seconds) * time.Second
	if t.Role == "master" || t.PID == os.Getpid() {
		go func() {
			var buf bytes.Buffer
			err := profiling.Write(&buf, t.Kind, d, nil)
			answerProfile(c, t.Kind, os.Getpid(), "master", buf.Bytes(), err)
		}()
		return
	}
	p, err := m.pprofTarget(t)
	if err != nil {
		answer(c, admin.Errorf("pprof: %v", err))
		return
	}
	r, w, err := os.Pipe()
	if err != nil {
		answer(c, admin.Errorf("pprof: %v", err))
		return
	}
	if m.pprof == nil {
		m.pprof = &pprofState{waiting: map[uint64]chan *proto.ProfileReply{}}
	}
	ps := m.pprof
	ps.seq++
	seq := ps.seq
	done := make(chan *proto.ProfileReply, 1)
	ps.mu.Lock()
	ps.waiting[seq] = done
	ps.mu.Unlock()
	// The reply comes on the child's reading goroutine (readControl),
	// not through the event loop.
	p.ctl.Handle(proto.TypeProfileReply, ps.reply)
	err = p.ctl.Send(&proto.Profile{Seq: seq, Kind: t.Kind, Seconds: uint32(t.Seconds)}, w)
	w.Close()
	if err != nil {
		r.Close()
		ps.forget(seq)
		answer(c, admin.CodeErrorf(admin.CodeTempFail, "pprof: process %d unavailable: %v", p.pid, err))
		return
	}
	pid, role := p.pid, p.role
	if p.user != "" {
		role += " " + p.user
	}
	go func() {
		defer ps.forget(seq)
		deadline := time.Now().Add(d + pprofGrace)
		data, err := readProfile(r, deadline)
		r.Close()
		if err == nil {
			// The process closed its end; its reply follows at once
			// unless it died.
			select {
			case rep := <-done:
				if rep.Error != "" {
					err = errors.New(rep.Error)
				}
			case <-time.After(time.Until(deadline)):
				err = errors.New("the process ended before confirming the profile")
			}
		}
		answerProfile(c, t.Kind, pid, role, data, err)
	}()
}

// checkPprof checks the kind and bounds the duration of t.
func checkPprof(t *admin.PprofTarget) error {
	if !proto.ProfileKind(t.Kind) {
		return fmt.Errorf("pprof: unknown profile %q", t.Kind)
	}
	if t.Kind != proto.ProfileCPU && t.Kind != proto.ProfileTrace {
		t.Seconds = 0
		return nil
	}
	if t.Seconds == 0 {
		t.Seconds = 30
	}
	if t.Seconds > proto.MaxProfileSeconds {
		return fmt.Errorf("pprof: at most %d seconds", proto.MaxProfileSeconds)
	}
	return nil
}

// pprofTarget finds the one running process t names.
func (m *Master) pprofTarget(t admin.PprofTarget) (*proc, error) {
	switch {
	case t.PID > 0:
		if p := m.procs[t.PID]; p != nil && !p.exited {
			return p, nil
		}
		return nil, fmt.Errorf("no cote process with pid %d", t.PID)
	case t.User != "":
		if p := m.workers[t.User]; p != nil && !p.exited {
			return p, nil
		}
		return nil, fmt.Errorf("user %s has no running worker", t.User)
	}
	var found []*proc
	for _, p := range m.procs {
		if p.role == t.Role && !p.exited {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no running %s process", t.Role)
	case 1:
		return found[0], nil
	}
	pids := make([]string, len(found))
	for i, p := range found {
		pids[i] = strconv.Itoa(p.pid)
	}
	sort.Strings(pids)
	return nil, fmt.Errorf("%d %s processes (pids %s): choose one by pid", len(found), t.Role, strings.Join(pids, " "))
}

// readProfile reads the pipe to its end, bounded in size and time.
func readProfile(r *os.File, deadline time.Time) ([]byte, error) {
	r.SetReadDeadline(deadline)
	data, err := io.ReadAll(io.LimitReader(r, proto.MaxProfileBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("read profile: %w", err)
	case len(data) > proto.MaxProfileBytes:
		return nil, fmt.Errorf("profile over %d bytes", proto.MaxProfileBytes)
	}
	return data, nil
}

// reply passes a ProfileReply to the request waiting for it.
func (ps *pprofState) reply(m proto.Message, files []*os.File) {
	for _, f := range files {
		f.Close()
	}
	rep := m.(*proto.ProfileReply)
	ps.mu.Lock()
	ch := ps.waiting[rep.Seq]
	delete(ps.waiting, rep.Seq)
	ps.mu.Unlock()
	if ch != nil {
		ch <- rep // buffered, one reply per Seq
	}
}

func (ps *pprofState) forget(seq uint64) {
	ps.mu.Lock()
	delete(ps.waiting, seq)
	ps.mu.Unlock()
}

// answerProfile writes the answer to coteadm pprof: a table describing
// the profile with its bytes attached, or the error.
func answerProfile(c net.Conn, kind string, pid int, role string, data []byte, err error) {
	defer c.Close()
	if err == nil && len(data) == 0 {
		err = errors.New("empty profile")
	}
	if err != nil {
		admin.WriteMessage(c, admin.Errorf("pprof: %s of pid %d: %v", kind, pid, err))
		return
	}
	resp := admin.Table([]string{"kind", "pid", "role", "bytes"},
		[][]string{{kind, strconv.Itoa(pid), role, strconv.Itoa(len(data))}})
	admin.WriteAttached(c, resp, data)
}
