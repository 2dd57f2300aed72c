package proto

// WorkerAssign gives a spare worker its user (master to worker). A spare
// is a worker the master started ahead of need (`service worker {
// process_min_avail }`) that has done nothing but the Hello and Config
// exchange. It is the first message a spare gets after the Config; before
// it reads anything else the spare drops to UID, GID and Groups (when it
// runs as root) and asserts the result, then serves User and no one else
// for the rest of its life. A worker that was already given a user, or
// was started for one, and gets a WorkerAssign exits.
type WorkerAssign struct {
	User     string
	UID, GID uint32
	Groups   []uint32 // supplementary groups; empty: none
}

// MaxAssignGroups bounds WorkerAssign.Groups.
const MaxAssignGroups = 64

func (*WorkerAssign) Type() Type { return TypeWorkerAssign }
func (m *WorkerAssign) encode(e *Encoder) {
	e.String(m.User)
	e.Uint(uint64(m.UID))
	e.Uint(uint64(m.GID))
	e.Uint(uint64(len(m.Groups)))
	for _, g := range m.Groups {
		e.Uint(uint64(g))
	}
}
func (m *WorkerAssign) decode(d *Decoder) {
	m.User = d.String()
	m.UID = d.Uint32()
	m.GID = d.Uint32()
	n := d.Uint()
	if n > MaxAssignGroups {
		d.fail("%d groups exceed the limit of %d", n, MaxAssignGroups)
		return
	}
	m.Groups = make([]uint32, 0, n)
	for i := uint64(0); i < n && d.Err() == nil; i++ {
		m.Groups = append(m.Groups, d.Uint32())
	}
}
