package child

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"cote/profiling"
	"cote/proto"
)

// serveProfiles answers proto.Profile on the control channel for every
// role (admin_pprof); Start installs it.
func (p *Process) serveProfiles() {
	p.Ctl.Handle(proto.TypeProfile, func(m proto.Message, files []*os.File) {
		req := m.(*proto.Profile)
		// A CPU profile or trace takes seconds: not on the reading
		// goroutine.
		go func() {
			err := p.writeProfile(req, files[0])
			if cerr := files[0].Close(); err == nil && cerr != nil {
				err = fmt.Errorf("close: %w", cerr)
			}
			reply := &proto.ProfileReply{Seq: req.Seq}
			if err != nil {
				reply.Error = err.Error()
				p.Log.Warn("profile failed", "kind", req.Kind, "err", err)
			}
			p.Ctl.Send(reply)
		}()
	})
}

// errPprofOff refuses a profile while admin_pprof is off; the master
// checks first, so this guards against a confused one.
var errPprofOff = errors.New("profiling is off (admin_pprof = no)")

func (p *Process) writeProfile(req *proto.Profile, w io.Writer) error {
	if p.Config == nil || !p.Config.AdminPprof {
		return errPprofOff
	}
	return profiling.Write(w, req.Kind, time.Duration(req.Seconds)*time.Second, p.Done)
}
