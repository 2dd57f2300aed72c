package imap

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// cmdThread: THREAD and UID THREAD, RFC 5256 section 4: ORDEREDSUBJECT,
// REFERENCES, and REFS (draft-ietf-morg-inthread: REFERENCES without
// subject grouping, threads ordered by their newest message).
func (s *session) cmdThread(c *command) error {
	p := c.p
	p.sp()
	alg := strings.ToUpper(p.atom())
	p.sp()
	csErr := parseCharset(p.astring())
	p.sp()
	prog := parseSearchKeys(p, 0)
	p.end()
	if p.err != nil {
		return p.err
	}
	switch alg {
	case "ORDEREDSUBJECT", "REFERENCES", "REFS":
	default:
		return errBad("Unknown thread algorithm.")
	}
	if csErr != nil {
		return csErr
	}
	found, _, err := s.search(prog)
	if err != nil {
		return err
	}
	msgs := make([]*threadMsg, 0, len(found))
	pre := s.newPrefetch(found)
	for _, i := range found {
		tm, err := s.threadMsgOf(i, pre)
		if err != nil {
			return err
		}
		msgs = append(msgs, tm)
	}
	var roots []*threadNode
	switch alg {
	case "ORDEREDSUBJECT":
		roots = threadOrderedSubject(msgs)
	default:
		roots = threadReferences(msgs, alg == "REFS")
	}
	e := untagged().raw("THREAD")
	if len(roots) > 0 {
		e.sp()
	}
	num := func(i int) uint32 {
		if c.uid {
			return s.view.msgs[i].UID
		}
		return uint32(i + 1)
	}
	for _, r := range roots {
		e.open()
		writeThreadNode(e, r, num)
		e.close()
	}
	s.writeEnc(e)
	return nil
}

// threadMsg is what threading needs of a message.
type threadMsg struct {
	idx       int
	date      time.Time // sent date, or the internal date (RFC 5256 section 2.2)
	subject   string    // base subject, case-mapped
	isReply   bool
	messageID string
	refs      []string
}

func (s *session) threadMsgOf(i int, pre *structPrefetch) (*threadMsg, error) {
	m := s.view.msgs[i]
	tm := &threadMsg{idx: i, date: m.InternalDate.UTC()}
	sm := &searchMsg{s: s, idx: i, m: m, pre: pre}
	if err := sm.content("References"); err != nil {
		return nil, err
	}
	if sm.gone {
		return tm, nil
	}
	if v, ok := sm.root.get("Date"); ok {
		if t, err := parseMessageDate(v); err == nil {
			tm.date = t.UTC()
		}
	}
	subj, _ := sm.root.get("Subject")
	base, reply := baseSubject(subj)
	tm.subject, tm.isReply = casemap(base), reply
	if v, ok := sm.root.get("Message-ID"); ok {
		if ids := msgIDs(v); len(ids) > 0 {
			tm.messageID = ids[0]
		}
	}
	if v, ok := sm.root.get("References"); ok {
		tm.refs = msgIDs(v)
	}
	if len(tm.refs) == 0 {
		if v, ok := sm.root.get("In-Reply-To"); ok {
			if ids := msgIDs(v); len(ids) > 0 {
				tm.refs = ids[:1]
			}
		}
	}
	return tm, nil
}

// maxThreadRefs bounds the references taken from one message.
const maxThreadRefs = 1000

// msgIDs returns the "<...>" message ids of a header value.
func msgIDs(v string) []string {
	var ids []string
	for len(ids) < maxThreadRefs {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			break
		}
		if id := strings.TrimSpace(v[i+1 : i+j]); id != "" && !strings.ContainsAny(id, " <") {
			ids = append(ids, id)
		}
		v = v[i+j+1:]
	}
	return ids
}

// threadNode is a container (RFC 5256 section 4, REFERENCES step 1); a
// dummy has no message.
type threadNode struct {
	msg      *threadMsg
	parent   *threadNode
	children []*threadNode
}

// date is a node's sent date; a dummy's is its first child's.
func (n *threadNode) date() (time.Time, int) {
	for n.msg == nil {
		if len(n.children) == 0 {
			return time.Time{}, 0
		}
		n = n.children[0]
	}
	return n.msg.date, n.msg.idx
}

// newest is the latest date in a thread, for REFS.
func (n *threadNode) newest() (time.Time, int) {
	t, idx := time.Time{}, 0
	if n.msg != nil {
		t, idx = n.msg.date, n.msg.idx
	}
	for _, c := range n.children {
		if ct, ci := c.newest(); ct.After(t) || (ct.Equal(t) && ci > idx) {
			t, idx = ct, ci
		}
	}
	return t, idx
}

func byDate(a, b *threadNode) int {
	ta, ia := a.date()
	tb, ib := b.date()
	if r := ta.Compare(tb); r != 0 {
		return r
	}
	return cmp.Compare(ia, ib)
}

// threadOrderedSubject: RFC 5256 section 4 ORDEREDSUBJECT. Messages are
// grouped by base subject; each group's first message (by sent date) is
// the parent of the others; threads are ordered by their first message.
func threadOrderedSubject(msgs []*threadMsg) []*threadNode {
	sorted := slices.Clone(msgs)
	slices.SortStableFunc(sorted, func(a, b *threadMsg) int {
		if r := strings.Compare(a.subject, b.subject); r != 0 {
			return r
		}
		if r := a.date.Compare(b.date); r != 0 {
			return r
		}
		return cmp.Compare(a.idx, b.idx)
	})
	var roots []*threadNode
	var cur *threadNode
	for i, m := range sorted {
		n := &threadNode{msg: m}
		if i > 0 && cur != nil && m.subject == cur.msg.subject {
			cur.children = append(cur.children, n)
			continue
		}
		cur = n
		roots = append(roots, n)
	}
	slices.SortStableFunc(roots, byDate)
	return roots
}

// threadReferences: RFC 5256 section 4 REFERENCES; refs selects REFS.
func threadReferences(msgs []*threadMsg, refs bool) []*threadNode {
	byID := map[string]*threadNode{}
	var all []*threadNode
	get := func(id string) *threadNode {
		if n, ok := byID[id]; ok {
			return n
		}
		n := &threadNode{}
		byID[id] = n
		all = append(all, n)
		return n
	}
	isAncestor := func(a, b *threadNode) bool { // a is b or above b
		for ; b != nil; b = b.parent {
			if a == b {
				return true
			}
		}
		return false
	}
	link := func(parent, child *threadNode) {
		if child.parent != nil {
			old := child.parent
			old.children = slices.DeleteFunc(old.children, func(c *threadNode) bool { return c == child })
		}
		child.parent = parent
		parent.children = append(parent.children, child)
	}
	for _, m := range msgs {
		// Step 1A: the message's container.
		var n *threadNode
		if m.messageID != "" {
			if c, ok := byID[m.messageID]; !ok || c.msg == nil {
				n = get(m.messageID)
			}
		}
		if n == nil {
			n = &threadNode{}
			all = append(all, n)
		}
		n.msg = m
		// Step 1B: link the references in order, keeping links made
		// before and making no loops.
		var prev *threadNode
		for _, id := range m.refs {
			r := get(id)
			if prev != nil && r.parent == nil && !isAncestor(r, prev) {
				link(prev, r)
			}
			prev = r
		}
		// Step 1C: the last reference is the message's parent. An
		// existing parent link is broken first, even when the new
		// one would make a loop and is not made.
		if n.parent != nil {
			old := n.parent
			old.children = slices.DeleteFunc(old.children, func(c *threadNode) bool { return c == n })
			n.parent = nil
		}
		if prev != nil && !isAncestor(n, prev) {
			link(prev, n)
		}
	}
	// Step 2: the root set.
	var roots []*threadNode
	for _, n := range all {
		if n.parent == nil {
			roots = append(roots, n)
		}
	}
	// Step 4: prune dummies.
	roots = pruneDummies(roots, true)
	// Steps 5 and 6: sort siblings by sent date.
	sortThread(roots)
	if !refs {
		roots = groupBySubject(roots)
		sortThread(roots)
		return roots
	}
	slices.SortStableFunc(roots, func(a, b *threadNode) int {
		ta, ia := a.newest()
		tb, ib := b.newest()
		if r := ta.Compare(tb); r != 0 {
			return r
		}
		return cmp.Compare(ia, ib)
	})
	return roots
}

// pruneDummies removes dummies without children and promotes the
// children of the others, except a root dummy with several children
// (REFERENCES step 4).
func pruneDummies(nodes []*threadNode, root bool) []*threadNode {
	var out []*threadNode
	for _, n := range nodes {
		n.children = pruneDummies(n.children, false)
		for _, c := range n.children {
			c.parent = n
		}
		if n.msg != nil {
			out = append(out, n)
			continue
		}
		switch {
		case len(n.children) == 0:
		case root && len(n.children) > 1:
			out = append(out, n)
		default:
			for _, c := range n.children {
				c.parent = n.parent
			}
			out = append(out, n.children...)
		}
	}
	return out
}

func sortThread(nodes []*threadNode) {
	for _, n := range nodes {
		sortThread(n.children)
	}
	slices.SortStableFunc(nodes, byDate)
}

// groupBySubject is REFERENCES step 5B: threads whose roots share a base
// subject are merged.
func groupBySubject(roots []*threadNode) []*threadNode {
	subj := func(n *threadNode) (string, bool) {
		m := n.msg
		if m == nil {
			m = n.children[0].msg
			if m == nil {
				return "", false
			}
		}
		return m.subject, m.isReply
	}
	table := map[string]*threadNode{}
	for _, r := range roots {
		s, reply := subj(r)
		if s == "" {
			continue
		}
		old, ok := table[s]
		if !ok {
			table[s] = r
			continue
		}
		_, oldReply := subj(old)
		if (r.msg == nil && old.msg != nil) || (old.msg != nil && r.msg != nil && oldReply && !reply) {
			table[s] = r
		}
	}
	removed := map[*threadNode]bool{}
	out := slices.Clone(roots)
	for ri, r := range roots {
		s, reply := subj(r)
		t, ok := table[s]
		if s == "" || !ok || t == r || removed[r] {
			continue
		}
		_, tReply := subj(t)
		switch {
		case t.msg == nil && r.msg == nil:
			for _, c := range r.children {
				c.parent = t
			}
			t.children = append(t.children, r.children...)
		case t.msg == nil:
			r.parent = t
			t.children = append(t.children, r)
		case r.msg == nil:
			// The dummy takes the table's place with t as a child.
			t.parent = r
			r.children = append(r.children, t)
			removed[t] = true
			table[s] = r
			continue
		case !tReply && reply:
			r.parent = t
			t.children = append(t.children, r)
		case tReply && !reply:
			t.parent = r
			r.children = append(r.children, t)
			removed[t] = true
			table[s] = r
			continue
		default:
			d := &threadNode{children: []*threadNode{t, r}}
			t.parent, r.parent = d, d
			removed[t] = true
			table[s] = d
			out[ri] = d
			continue
		}
		removed[r] = true
	}
	return slices.DeleteFunc(out, func(n *threadNode) bool { return removed[n] })
}

// writeThreadNode writes one thread (RFC 5256 section 5 "thread-list"):
// a chain of single children as numbers, several children each in
// parentheses; a dummy is written as its children only.
func writeThreadNode(e *enc, n *threadNode, num func(int) uint32) {
	first := true
	for {
		if n.msg != nil {
			if !first {
				e.sp()
			}
			e.num(num(n.msg.idx))
			first = false
		}
		if len(n.children) != 1 || n.msg == nil && len(n.children) == 1 && first {
			break
		}
		n = n.children[0]
	}
	if len(n.children) == 0 {
		return
	}
	if len(n.children) == 1 { // a dummy root with one child
		writeThreadNode(e, n.children[0], num)
		return
	}
	if !first {
		e.sp()
	}
	for _, c := range n.children {
		e.open()
		writeThreadNode(e, c, num)
		e.close()
	}
}
