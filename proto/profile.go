package proto

// Profiling over the control channel (admin_pprof): coteadm pprof asks the
// master through the admin socket, the master asks the process.

// Profile kinds a child answers. ProfileCPU and ProfileTrace run for
// Seconds; the others are a snapshot of the runtime's named profile
// (runtime/pprof.Lookup).
const (
	ProfileCPU   = "profile"
	ProfileTrace = "trace"
)

// ProfileKind reports whether a Profile may ask for kind.
func ProfileKind(kind string) bool {
	switch kind {
	case ProfileCPU, ProfileTrace, "heap", "allocs", "goroutine", "block", "mutex", "threadcreate":
		return true
	}
	return false
}

// Limits of a profile request.
const (
	// MaxProfileSeconds bounds a CPU profile or trace.
	MaxProfileSeconds = 300
	// MaxProfileBytes bounds what the master reads from the descriptor.
	MaxProfileBytes = 256 << 20
)

// Profile asks a child, master to child, for a profile of itself in the
// format of runtime/pprof (gzipped protocol buffers; for ProfileTrace, a
// runtime/trace stream) written into the attached descriptor, the write end
// of a pipe the master reads. The child closes the descriptor when the
// profile is written, then answers with ProfileReply. The master sends it
// only with admin_pprof set, and the child refuses it otherwise. It is
// handled beside each role's own control messages (Conn.Handle), so no
// role's message loop sees it.
type Profile struct {
	Seq     uint64
	Kind    string // ProfileKind(Kind) holds
	Seconds uint32 // ProfileCPU and ProfileTrace: how long, 1 to MaxProfileSeconds
}

func (*Profile) Type() Type { return TypeProfile }
func (m *Profile) encode(e *Encoder) {
	e.Uint(m.Seq)
	e.String(m.Kind)
	e.Uint(uint64(m.Seconds))
}
func (m *Profile) decode(d *Decoder) {
	m.Seq = d.Uint()
	m.Kind = d.String()
	m.Seconds = d.Uint32()
	if m.Seconds > MaxProfileSeconds {
		d.fail("profile of %d seconds", m.Seconds)
	}
}

// ProfileReply answers Profile, child to master, once the descriptor is
// closed: Error is empty when the whole profile was written.
type ProfileReply struct {
	Seq   uint64
	Error string
}

func (*ProfileReply) Type() Type { return TypeProfileReply }
func (m *ProfileReply) encode(e *Encoder) {
	e.Uint(m.Seq)
	e.String(m.Error)
}
func (m *ProfileReply) decode(d *Decoder) {
	m.Seq = d.Uint()
	m.Error = d.String()
}
