package worker

import (
	"reflect"
	"testing"

	"cote/config"
	"cote/imap"
)

func TestMailboxSettings(t *testing.T) {
	sent := config.Mailbox{Name: "Sent", SpecialUse: []string{`\Sent`}, Auto: "subscribe"}
	for _, tc := range []struct {
		name string
		nss  []config.Namespace
		auto []imap.AutoMailbox
		none bool
		use  map[string][]string
	}{
		{"no namespace: the engine's default set", nil, nil, false, nil},
		{"a namespace without mailboxes: none", []config.Namespace{{Name: "inbox", Inbox: true}}, []imap.AutoMailbox{}, true, nil},
		{"auto and special use", []config.Namespace{{Name: "inbox", Inbox: true, Mailboxes: []config.Mailbox{
			sent,
			{Name: "Spam", SpecialUse: []string{`\Junk`}, Auto: "Create"},
			{Name: "Old", Auto: "no"},
			{Name: "Sent Items", SpecialUse: []string{`\Sent`}},
		}}}, []imap.AutoMailbox{
			{Name: "Sent", SpecialUse: `\Sent`, Subscribe: true},
			{Name: "Spam", SpecialUse: `\Junk`},
		}, false, map[string][]string{"Sent": {`\Sent`}, "Spam": {`\Junk`}, "Sent Items": {`\Sent`}}},
		{"disabled and prefixed namespaces are not served", []config.Namespace{
			{Name: "old", Disabled: true, Mailboxes: []config.Mailbox{sent}},
			{Name: "shared", Prefix: "shared/", Mailboxes: []config.Mailbox{sent}},
		}, []imap.AutoMailbox{}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auto, none, use := mailboxSettings(tc.nss)
			if !reflect.DeepEqual(auto, tc.auto) || none != tc.none || !reflect.DeepEqual(use, tc.use) {
				t.Errorf("mailboxSettings = %#v, %v, %v; want %#v, %v, %v", auto, none, use, tc.auto, tc.none, tc.use)
			}
		})
	}
}
