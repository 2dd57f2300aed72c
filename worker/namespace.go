package worker

import (
	"strings"

	"cote/config"
	"cote/imap"
)

// mailboxSettings maps the `mailbox NAME { }` blocks of the namespaces
// onto the IMAP engine's options, as Dovecot applies them: `auto =
// create` or `subscribe` mailboxes are made at login when missing, and
// `special_use` names the attributes LIST shows for a mailbox that has
// none of its own. Without any namespace block the engine keeps its own
// set (imap.DefaultAutoMailboxes); with one, only what the blocks say
// is created (none: none). Only mailboxes of enabled namespaces without
// a prefix are mapped, the namespace cote serves.
func mailboxSettings(nss []config.Namespace) (auto []imap.AutoMailbox, none bool, use map[string][]string) {
	if len(nss) == 0 {
		return nil, false, nil
	}
	auto = []imap.AutoMailbox{}
	for _, ns := range nss {
		if ns.Disabled || ns.Prefix != "" {
			continue
		}
		for _, mb := range ns.Mailboxes {
			if len(mb.SpecialUse) > 0 {
				if use == nil {
					use = make(map[string][]string)
				}
				use[mb.Name] = mb.SpecialUse
			}
			a := strings.ToLower(mb.Auto)
			if a != "create" && a != "subscribe" {
				continue
			}
			am := imap.AutoMailbox{Name: mb.Name, Subscribe: a == "subscribe"}
			if len(mb.SpecialUse) > 0 {
				am.SpecialUse = mb.SpecialUse[0]
			}
			auto = append(auto, am)
		}
	}
	return auto, len(auto) == 0, use
}
