package imap

import (
	"errors"
	"slices"
	"strings"

	"cote/storage"
)

// NOTIFY (RFC 5465): the client names the events it wants for the
// selected mailbox and for groups of other mailboxes; the session then
// sends them as they happen, between commands and during IDLE, not only
// when a command gives the chance.
//
// The store's change feed (storage.ChangeStore) says which mailbox
// changed and how. A change to the selected mailbox is a sync of the
// view, as NOOP does (with expunges held back for SELECTED-DELAYED); a
// change to another watched mailbox is a STATUS with what changed since
// the client last heard of it (sections 5.1 to 5.3); creations,
// deletions, renames and subscription changes are LIST responses
// (sections 5.4, 5.5). Changes the session's own commands make are not
// reported back (section 5: SHOULD).

// notifyEvent is a set of RFC 5465 section 5 events.
type notifyEvent uint8

const (
	evMessageNew notifyEvent = 1 << iota
	evMessageExpunge
	evFlagChange
	evMailboxName
	evSubscriptionChange

	evMessages = evMessageNew | evMessageExpunge | evFlagChange
)

// supportedEvents is the BADEVENT list (RFC 5465 section 3.1).
const supportedEvents = "MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange"

// notifyFilter is a mailbox specifier for other than the selected
// mailbox (RFC 5465 section 6).
type notifyFilter int

const (
	filterPersonal notifyFilter = iota
	filterInboxes
	filterSubscribed
	filterSubtree
	filterMailboxes
)

// notifyGroup is one event group of NOTIFY SET.
type notifyGroup struct {
	filter notifyFilter
	names  []string // SUBTREE and MAILBOXES
	events notifyEvent
}

// notifyState is what NOTIFY SET asked for; nil in the session means
// NOTIFY NONE.
type notifyState struct {
	selected notifyEvent // SELECTED or SELECTED-DELAYED; 0: none
	delayed  bool        // SELECTED-DELAYED (RFC 5465 section 6.1.2)
	newFetch []fetchItem // MessageNew's fetch attributes for the selected mailbox
	groups   []notifyGroup
	feed     *storage.ChangeFeed
	// known is the status each watched mailbox had when the client
	// last heard of it.
	known map[string]storage.Status
}

// maxNotifyMailboxes bounds the names of one NOTIFY command.
const maxNotifyMailboxes = 1000

// cmdNotify: NOTIFY SET and NOTIFY NONE, RFC 5465 section 3.1.
func (s *session) cmdNotify(c *command) error {
	p := c.p
	p.sp()
	switch strings.ToUpper(p.atom()) {
	case "NONE":
		p.end()
		if p.err != nil {
			return p.err
		}
		s.stopNotify()
		return nil
	case "SET":
	default:
		if p.err == nil {
			p.fail("NOTIFY needs SET or NONE")
		}
		return p.err
	}
	p.sp()
	status := false
	if p.peek() != '(' {
		if !strings.EqualFold(p.atom(), "STATUS") {
			p.fail("expected STATUS or an event group")
		}
		status = true
		p.sp()
	}
	ns, unsupported := parseNotifySet(p)
	p.end()
	if p.err != nil {
		return p.err
	}
	if unsupported {
		return errNo("BADEVENT ("+supportedEvents+")", "Unsupported event.")
	}
	cs, ok := s.o.Store.(storage.ChangeStore)
	if !ok {
		return errNo("CANNOT", "This store cannot report changes.")
	}
	s.stopNotify()
	// The feed starts before the statuses are read: a change between
	// the two is reported again rather than lost.
	ns.feed = cs.WatchChanges()
	s.notify = ns
	if err := s.notifyBaseline(status); err != nil {
		s.stopNotify()
		return err
	}
	return nil
}

// parseNotifySet parses event groups (RFC 5465 section 8 event-groups);
// unsupported reports an event this server does not send.
func parseNotifySet(p *parser) (ns *notifyState, unsupported bool) {
	ns = &notifyState{known: map[string]storage.Status{}}
	haveSelected, names := false, 0
	for p.err == nil {
		p.expect('(')
		var g notifyGroup
		selected := false
		switch f := strings.ToUpper(p.atom()); f {
		case "SELECTED", "SELECTED-DELAYED":
			if haveSelected {
				p.fail("only one of SELECTED and SELECTED-DELAYED may be given") // section 6.1
			}
			haveSelected, selected, ns.delayed = true, true, f == "SELECTED-DELAYED"
		case "PERSONAL":
			g.filter = filterPersonal
		case "INBOXES":
			g.filter = filterInboxes
		case "SUBSCRIBED":
			g.filter = filterSubscribed
		case "SUBTREE", "MAILBOXES":
			g.filter = filterSubtree
			if f == "MAILBOXES" {
				g.filter = filterMailboxes
			}
			p.sp()
			if p.peek() == '(' {
				p.list(func() { g.names = append(g.names, p.mailbox()) })
			} else {
				g.names = append(g.names, p.mailbox())
			}
			if names += len(g.names); names > maxNotifyMailboxes {
				p.fail("too many mailboxes")
			}
		default:
			p.fail("unknown mailbox specifier %q", truncate(f, 20))
		}
		p.sp()
		var fetch []fetchItem
		g.events, fetch, unsupported = parseNotifyEvents(p, unsupported)
		p.expect(')')
		if selected {
			if g.events&^evMessages != 0 {
				p.fail("only message events go with SELECTED") // section 6.1
			}
			ns.selected, ns.newFetch = g.events, fetch
		} else {
			ns.groups = append(ns.groups, g)
		}
		if !p.trySP() {
			break
		}
	}
	return ns, unsupported
}

// parseNotifyEvents parses "(" event *(SP event) ")" or NONE; an event
// this server does not send sets unsupported (RFC 5465 section 3.1: NO
// with BADEVENT, not BAD).
func parseNotifyEvents(p *parser, unsupported bool) (ev notifyEvent, fetch []fetchItem, _ bool) {
	if p.peek() != '(' {
		if !strings.EqualFold(p.atom(), "NONE") && p.err == nil {
			p.fail("expected an event list or NONE")
		}
		return 0, nil, unsupported
	}
	p.list(func() {
		switch strings.ToUpper(p.atom()) {
		case "MESSAGENEW":
			ev |= evMessageNew
			if p.peek() == ' ' && p.pos+1 < len(p.b) && p.b[p.pos+1] == '(' {
				p.sp()
				p.list(func() { fetch = append(fetch, parseFetchItem(p)...) })
			}
		case "MESSAGEEXPUNGE":
			ev |= evMessageExpunge
		case "FLAGCHANGE":
			ev |= evFlagChange
		case "MAILBOXNAME":
			ev |= evMailboxName
		case "SUBSCRIPTIONCHANGE":
			ev |= evSubscriptionChange
		default:
			// AnnotationChange, the METADATA events, extensions.
			unsupported = true
		}
	})
	return ev, fetch, unsupported
}

// stopNotify turns notifications off (NOTIFY NONE).
func (s *session) stopNotify() {
	if s.notify != nil {
		s.notify.feed.Stop()
		s.notify = nil
	}
	if s.view != nil && s.view.hook != nil && len(s.view.hook.contexts) == 0 {
		s.view.hook = nil
	}
}

// eventsFor returns the events asked for a mailbox other than the
// selected one: those of the most specific group that names it
// (MAILBOXES, the deepest SUBTREE, SUBSCRIBED, INBOXES, then PERSONAL),
// so that "(mailboxes Junk NONE)" excludes one mailbox from a wider
// group.
func (ns *notifyState) eventsFor(name string, delim rune, subscribed func(string) bool) notifyEvent {
	best, bestRank, bestLen := notifyEvent(0), -1, -1
	for _, g := range ns.groups {
		rank, l := -1, 0
		switch g.filter {
		case filterMailboxes:
			if slices.Contains(g.names, name) {
				rank = 4
			}
		case filterSubtree:
			for _, root := range g.names {
				if (name == root || strings.HasPrefix(name, root+string(delim))) && len(root) >= l {
					rank, l = 3, len(root)
				}
			}
		case filterSubscribed:
			if subscribed(name) {
				rank = 2
			}
		case filterInboxes:
			// Mail is delivered to INBOX only (no sieve fileinto
			// targets are known here).
			if name == "INBOX" {
				rank = 1
			}
		case filterPersonal:
			rank = 0
		}
		if rank > bestRank || (rank == bestRank && rank >= 0 && l >= bestLen) {
			best, bestRank, bestLen = g.events, rank, l
		}
	}
	return best
}

// subscriptions returns a lookup of subscribed names, reading the list
// once when first asked.
func (s *session) subscriptions() func(string) bool {
	var subs map[string]bool
	return func(name string) bool {
		if subs == nil {
			subs = map[string]bool{}
			list, err := s.o.Store.List()
			if err != nil {
				s.log.Warn("notify: list", "err", err)
			}
			for _, info := range list {
				if info.Subscribed {
					subs[info.Name] = true
				}
			}
		}
		return subs[name]
	}
}

// notifyBaseline records the status of every watched mailbox and, for
// NOTIFY SET STATUS, sends it (RFC 5465 section 3.1: MESSAGES, UIDNEXT
// and UIDVALIDITY for MessageNew, MESSAGES for MessageExpunge,
// UIDVALIDITY and HIGHESTMODSEQ for FlagChange).
func (s *session) notifyBaseline(send bool) error {
	ns := s.notify
	list, err := s.o.Store.List()
	if err != nil {
		return err
	}
	subs := map[string]bool{}
	for _, info := range list {
		subs[info.Name] = info.Subscribed
	}
	subscribed := func(name string) bool { return subs[name] }
	sel := s.selectedName()
	delim := s.o.Store.Delimiter()
	for _, info := range list {
		if info.Name == sel || slices.Contains(info.Attrs, storage.AttrNoselect) ||
			slices.Contains(info.Attrs, storage.AttrNonExistent) {
			continue
		}
		ev := ns.eventsFor(info.Name, delim, subscribed)
		if ev&evMessages == 0 {
			continue
		}
		st, err := s.o.Store.Status(info.Name)
		if errors.Is(err, storage.ErrNoSuchMailbox) {
			continue
		}
		if err != nil {
			return err
		}
		ns.known[info.Name] = st
		if !send {
			continue
		}
		var items []string
		if ev&(evMessageNew|evMessageExpunge) != 0 {
			items = append(items, "MESSAGES")
		}
		if ev&evMessageNew != 0 {
			items = append(items, "UIDNEXT", "UIDVALIDITY")
		}
		if ev&evFlagChange != 0 {
			if ev&evMessageNew == 0 {
				items = append(items, "UIDVALIDITY")
			}
			items = append(items, "HIGHESTMODSEQ")
		}
		s.writeStatus(info.Name, st, items)
	}
	return nil
}

func (s *session) selectedName() string {
	if s.mbox == nil {
		return ""
	}
	return s.mbox.Name()
}

// writeStatus sends "* STATUS name (items)" from st.
func (s *session) writeStatus(name string, st storage.Status, items []string) {
	if e, err := s.statusEnc(name, st, items); err == nil {
		s.writeEnc(e)
	}
}

// changedItems returns the STATUS items that tell the client how a
// mailbox went from old to st, for the events it asked (RFC 5465
// sections 5.1 to 5.3); none when nothing it asked for changed.
func (s *session) changedItems(old, st storage.Status, ev notifyEvent) []string {
	renewed := old.UIDValidity != st.UIDValidity
	added := renewed || st.UIDNext > old.UIDNext
	removed := renewed || int64(st.Messages) < int64(old.Messages)+int64(st.UIDNext)-int64(old.UIDNext)
	var items []string
	if (added && ev&evMessageNew != 0) || (removed && ev&evMessageExpunge != 0) {
		items = append(items, "MESSAGES", "UIDNEXT")
	}
	if renewed {
		items = append(items, "UIDVALIDITY")
	}
	hms := s.mode.condstore && ev&evMessageNew != 0 && added ||
		s.mode.qresync && ev&evMessageExpunge != 0 && removed
	if st.HighestModSeq != old.HighestModSeq && ev&evFlagChange != 0 && len(items) == 0 {
		items = append(items, "UIDVALIDITY")
		hms = true
	}
	if hms && len(items) > 0 {
		items = append(items, "HIGHESTMODSEQ")
	}
	return items
}

// notifyReady is the feed's channel, nil without NOTIFY.
func (s *session) notifyReady() <-chan struct{} {
	if s.notify == nil {
		return nil
	}
	return s.notify.feed.Ready()
}

// notifyDeliver takes the feed's changes and sends what the client asked
// for. own marks changes the session's command just made: they only
// move the statuses the client is assumed to know. async is for the
// time between commands and IDLE, where a change to the selected mailbox
// is synced here (a command syncs it itself).
func (s *session) notifyDeliver(own, async bool) {
	ns := s.notify
	if ns == nil {
		return
	}
	changes, overflow := ns.feed.Take()
	if overflow {
		// RFC 5465 section 5.8.
		s.stopNotify()
		s.writeLine("* OK [NOTIFICATIONOVERFLOW] Too many changes, notifications are off.")
		return
	}
	sel := s.selectedName()
	delim := s.o.Store.Delimiter()
	subscribed := s.subscriptions()
	var statusNames []string
	selectedChanged := false
	for _, ch := range changes {
		switch ch.Kind {
		case storage.ChangeMessages:
			if ch.Mailbox == sel {
				selectedChanged = true
			} else if !slices.Contains(statusNames, ch.Mailbox) && ns.eventsFor(ch.Mailbox, delim, subscribed)&evMessages != 0 {
				statusNames = append(statusNames, ch.Mailbox)
			}
			continue
		case storage.ChangeDeleted:
			delete(ns.known, ch.Mailbox)
		case storage.ChangeRenamed:
			if st, ok := ns.known[ch.OldName]; ok {
				delete(ns.known, ch.OldName)
				ns.known[ch.Mailbox] = st
			}
		}
		if !own {
			s.notifyMailboxEvent(ch, delim, subscribed)
		}
	}
	for _, name := range statusNames {
		st, err := s.o.Store.Status(name)
		if err != nil {
			continue // deleted meanwhile: its LIST says so
		}
		old, ok := ns.known[name]
		if !ok {
			old = storage.Status{UIDValidity: st.UIDValidity}
		}
		ns.known[name] = st
		if own {
			continue
		}
		if items := s.changedItems(old, st, ns.eventsFor(name, delim, subscribed)); len(items) > 0 {
			s.writeStatus(name, st, items)
		}
	}
	if selectedChanged && async && ns.selected != 0 && s.mbox != nil {
		s.view.holdFlags = ns.selected&evFlagChange == 0
		s.sync(!ns.delayed)
		s.view.holdFlags = false
	}
}

// notifyMailboxEvent sends the LIST response of a MailboxName or
// SubscriptionChange event (RFC 5465 sections 5.4, 5.5).
func (s *session) notifyMailboxEvent(ch storage.MailboxChange, delim rune, subscribed func(string) bool) {
	ev := s.notify.eventsFor(ch.Mailbox, delim, subscribed)
	if ch.Kind == storage.ChangeRenamed {
		ev |= s.notify.eventsFor(ch.OldName, delim, subscribed)
	}
	attrs := []string{}
	switch ch.Kind {
	case storage.ChangeCreated, storage.ChangeRenamed:
		if ev&evMailboxName == 0 {
			return
		}
	case storage.ChangeDeleted:
		if ev&evMailboxName == 0 {
			return
		}
		attrs = append(attrs, storage.AttrNonExistent)
	case storage.ChangeSubscribed, storage.ChangeUnsubscribed:
		if ev&evSubscriptionChange == 0 {
			return
		}
		if ch.Kind == storage.ChangeSubscribed {
			attrs = append(attrs, storage.AttrSubscribed)
		}
	default:
		return
	}
	e := untagged().raw("LIST ").flags(attrs).sp().str(string(delim)).sp().mailbox(ch.Mailbox, s.utf8Names())
	if ch.Kind == storage.ChangeRenamed {
		e.raw(` ("OLDNAME" (`).mailbox(ch.OldName, s.utf8Names()).raw("))")
	}
	s.writeEnc(e)
}

// changesMailboxes reports commands whose own changes to other
// mailboxes are not reported back.
func changesMailboxes(name string) bool {
	switch name {
	case "APPEND", "COPY", "MOVE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "CLOSE":
		return true
	}
	return false
}

// notifyBefore sends what others changed before a command that changes
// mailboxes itself, so that notifyAfter can take the feed as the
// command's own.
func (s *session) notifyBefore(c *command) {
	if s.notify != nil && changesMailboxes(c.name) {
		s.notifyDeliver(false, false)
	}
}

// notifyAfter takes the changes made while a command ran: the command's
// own, or others' for commands that change nothing.
func (s *session) notifyAfter(c *command) {
	if s.notify != nil && c.name != "NOTIFY" {
		s.notifyDeliver(changesMailboxes(c.name), false)
	}
}

// notifyWait waits for the client's next command while sending
// notifications (RFC 5465 section 1: the client listens all the time).
// It returns once input is there, or reading it failed (the read that
// follows fails the same way).
func (s *session) notifyWait() {
	if s.notify == nil || s.cr.r.Buffered() > 0 {
		return
	}
	s.notifyDeliver(false, true)
	if err := s.flush(); err != nil {
		return
	}
	done := make(chan struct{})
	r := s.cr.r
	s.readers.Add(1)
	go func() {
		defer s.readers.Done()
		r.Peek(1)
		close(done)
	}()
	for {
		select {
		case <-done:
			return
		case <-s.notifyReady():
			s.notifyDeliver(false, true)
			if err := s.flush(); err != nil {
				s.log.Debug("write notification", "err", err)
			}
		}
	}
}

// fetchNew sends FETCH with items for the messages above prevMax (RFC
// 5465 section 5.2: MessageNew's fetch attributes).
func (s *session) fetchNew(prevMax uint32, items []fetchItem, out func(*enc)) {
	var uids []uint32
	for i := len(s.view.msgs) - 1; i >= 0 && s.view.msgs[i].UID > prevMax; i-- {
		uids = append(uids, s.view.msgs[i].UID)
	}
	slices.Reverse(uids)
	s.fetchUIDs(uids, items, out)
}

// fetchUIDs sends "* n FETCH (items)" for messages of the view. Items
// that would set \Seen do not: these are notifications, not reads.
func (s *session) fetchUIDs(uids []uint32, items []fetchItem, out func(*enc)) {
	need := needNone
	for _, it := range items {
		need = max(need, it.needs())
	}
	for _, uid := range uids {
		seq := s.view.seqOf(uid)
		if seq == 0 || s.view.gone[uid] {
			continue
		}
		m := s.view.msgs[seq-1]
		var mc msgContent
		if need > needNone {
			var err error
			if mc, err = s.content(uid, need); err != nil {
				s.log.Debug("notify fetch", "uid", uid, "err", err)
				continue
			}
		}
		e, err := s.fetchResponse(seq, m, mc, items, false)
		if err != nil {
			s.log.Debug("notify fetch", "uid", uid, "err", err)
			continue
		}
		out(e)
	}
}
