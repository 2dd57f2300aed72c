package master

// One mail, one worker, whatever name it is reached by (route): a
// delivery to "jane@example.com" while "jane" is logged in, a login as
// "jane" while a worker started for deliveries to "jane@example.com"
// lingers, and work for a mail whose worker of another name is still
// starting all go to that one worker. Two workers on one mail would each
// keep its state in memory and undo the other's writes.

// mailFields are the userdb fields that place a user's mail; with the
// uid and gid and a mail location free of name variables
// (nameFreeLocation) they say two names reach the same mail. A session's
// fields also hold the passdb's extra fields and auth_mech, which a
// delivery's lookup lacks, so they cannot be compared whole.
var mailFields = []string{"home", "mail", "chroot"}

// sameMailFields says whether fields a and b, of two names with the same
// uid and gid, place their mail in the same place. It runs over every
// worker of a uid for a user without one, so it does not allocate.
func sameMailFields(a, b []string) bool {
	if fieldOf(a, "home") == "" && fieldOf(a, "mail") == "" {
		return false // nothing places this mail: not known to be the same
	}
	for _, k := range mailFields {
		if fieldOf(a, k) != fieldOf(b, k) {
			return false
		}
	}
	return true
}

// fieldOf is the value of the field key in fields, "" when absent.
func fieldOf(fields []string, key string) string {
	for _, f := range fields {
		if len(f) > len(key) && f[len(key)] == '=' && f[:len(key)] == key {
			return f[len(key)+1:]
		}
	}
	return ""
}

// holderOfMail finds the worker that holds pu's mail under another name:
// w when it runs, or starting, the user a worker is being started for.
// Both are empty when there is none or the location depends on the name.
func (m *Master) holderOfMail(pu *pendingUser) (w *proc, starting string) {
	if m.cfg == nil || !nameFreeLocation(pu.fields, m.cfg.MailLocation) {
		return nil, ""
	}
	for user, o := range m.workers {
		if user != pu.user && o.uid == pu.uid && o.gid == pu.gid && m.liveWorker(user) == o && sameMailFields(o.fields, pu.fields) {
			return o, ""
		}
	}
	for user, q := range m.starting {
		if user != pu.user && len(q) > 0 && q[0].uid == pu.uid && q[0].gid == pu.gid && sameMailFields(q[0].fields, pu.fields) {
			return nil, user
		}
	}
	return nil, ""
}
