package master

import (
	"strconv"
	"testing"

	"cote/config"
	"cote/proto"
)

// TestHolderOfMail: a name whose userdb entry places its mail where a
// running worker of another name holds it reaches that worker.
func TestHolderOfMail(t *testing.T) {
	jane := []string{"uid=1000", "gid=100", "home=/home/jane", "auth_mech=PLAIN"}
	tests := []struct {
		name     string
		location string // mail_location
		fields   []string
		uid, gid int
		want     bool
	}{
		{"same entry, another name", "maildir:~/Maildir", []string{"uid=1000", "gid=100", "home=/home/jane"}, 1000, 100, true},
		{"userdb gives a user field", "maildir:~/Maildir", []string{"user=jane@example.com", "uid=1000", "gid=100", "home=/home/jane"}, 1000, 100, true},
		{"another home", "maildir:~/Maildir", []string{"uid=1000", "gid=100", "home=/home/john"}, 1000, 100, false},
		{"another uid", "maildir:~/Maildir", []string{"uid=1001", "gid=100", "home=/home/jane"}, 1001, 100, false},
		// Another field does not make another mail: two workers on one
		// home would undo each other's writes.
		{"a field the worker lacks", "maildir:~/Maildir", []string{"uid=1000", "gid=100", "home=/home/jane", "quota_rule=*:storage=1M"}, 1000, 100, true},
		{"location names the user", "maildir:/var/mail/%n", []string{"uid=1000", "gid=100", "home=/home/jane"}, 1000, 100, false},
		{"userdb location names the user", "maildir:~/Maildir", []string{"uid=1000", "gid=100", "home=/home/jane", "mail=maildir:/var/mail/%u"}, 1000, 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.MailLocation = tt.location
			w := &proc{role: proto.RoleWorker, user: "jane", fields: jane, uid: 1000, gid: 100}
			m := &Master{cfg: cfg, workers: map[string]*proc{"jane": w}}
			pu := &pendingUser{user: "jane@example.com", fields: tt.fields, uid: tt.uid, gid: tt.gid}
			if got, _ := m.holderOfMail(pu); (got == w) != tt.want {
				t.Errorf("holderOfMail(%q) found jane's worker = %v, want %v", tt.fields, got == w, tt.want)
			}
		})
	}
}

// TestMailOwnerForgetsExitedWorker: an lmtp process's remembered owner
// is used only while that worker runs.
func TestMailOwnerForgetsExitedWorker(t *testing.T) {
	w := &proc{role: proto.RoleWorker, user: "jane", fields: []string{"uid=1000"}, uid: 1000}
	m := &Master{cfg: config.Defaults(), workers: map[string]*proc{"jane": w}}
	lmtp := &proc{role: proto.RoleLMTP}
	m.rememberMailOwner(lmtp, "jane@example.com", w)
	if got := m.mailOwner(lmtp, "jane@example.com"); got != w {
		t.Fatalf("mailOwner = %v, want jane's running worker", got)
	}
	w.exiting = true
	if got := m.mailOwner(lmtp, "jane@example.com"); got != nil {
		t.Errorf("mailOwner of an exiting worker = %v, want nil", got)
	}
	if _, ok := lmtp.mailOwners["jane@example.com"]; ok {
		t.Error("the exiting worker is still remembered")
	}
}

// BenchmarkHolderOfMail: the scan a delivery to a name without a
// worker of its own pays once per lmtp process and name, with 400
// workers running.
func BenchmarkHolderOfMail(b *testing.B) {
	m := &Master{cfg: config.Defaults(), workers: map[string]*proc{}}
	for i := range 400 {
		u := "bench" + strconv.Itoa(i)
		m.workers[u] = &proc{role: proto.RoleWorker, user: u, uid: 50100 + i, gid: 50100 + i,
			fields: []string{"uid=" + strconv.Itoa(50100+i), "gid=" + strconv.Itoa(50100+i), "home=/home/" + u, "auth_mech=PLAIN"}}
	}
	pu := &pendingUser{user: "bench399@bench.example", uid: 50499, gid: 50499,
		fields: []string{"uid=50499", "gid=50499", "home=/home/bench399"}}
	for b.Loop() {
		if w, _ := m.holderOfMail(pu); w == nil {
			b.Fatal("no worker found")
		}
	}
}
