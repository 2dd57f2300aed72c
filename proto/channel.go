package proto

// DeliverChannel gives one end of a new SOCK_SEQPACKET socketpair to the
// lmtp process and the other to the worker a delivery was just routed to
// (master to both), so that the lmtp process's next deliveries to User go
// to that worker directly: the master's two hops per delivery (Deliver
// in and out, DeliverReply in and out) are left out.
//
// On the channel the lmtp process sends Deliver and the worker answers
// each with a DeliverReply of the same Seq (the channel's own numbering).
// The worker takes User and Fields from the master's DeliverChannel, not
// from what comes over the channel: the lmtp process is not trusted with
// them, and through a channel it reaches only the mail of the worker it
// was given. A worker that ends closes its end; a delivery it had not
// answered was not made, and the lmtp process sends it again through the
// master.
type DeliverChannel struct {
	User   string   // to the lmtp process: the name it delivers to; to the worker: its user
	Fields []string // to the worker: the user's userdb fields
}

func (*DeliverChannel) Type() Type { return TypeDeliverChannel }
func (m *DeliverChannel) encode(e *Encoder) {
	e.String(m.User)
	e.Strings(m.Fields)
}
func (m *DeliverChannel) decode(d *Decoder) {
	m.User = d.String()
	m.Fields = d.Strings(1024)
}
