package imap

import "testing"

// TestListPatternRepeated sends LIST patterns again in one session, after
// others and after ENABLE UTF8=ACCEPT, which changes what a pattern means
// (RFC 6855 section 3: modified UTF-7 is no longer decoded).
func TestListPatternRepeated(t *testing.T) {
	c := login(t, nil)
	c.cmd("p1 CREATE Entw&APw-rfe").ok()
	c.cmd("p2 CREATE Work/Projects/").ok()
	c.cmd(`p3 LIST "" Entw&APw-rfe`).want(`* LIST (\HasNoChildren) "/" Entw&APw-rfe`, "p3 OK List completed.")
	c.cmd(`p4 LIST "" %`).want(
		`* LIST (\HasNoChildren) "/" Entw&APw-rfe`,
		`* LIST (\HasNoChildren) "/" INBOX`,
		`* LIST (\Noselect \HasChildren) "/" Work`,
		"p4 OK List completed.")
	c.cmd(`p5 LIST "Work/" %`).want(`* LIST (\HasNoChildren) "/" Work/Projects`, "p5 OK List completed.")
	c.cmd(`p6 LIST "" Work/%`).want(`* LIST (\HasNoChildren) "/" Work/Projects`, "p6 OK List completed.")
	c.cmd(`p7 LIST "" %`).has(`* LIST (\Noselect \HasChildren) "/" Work`)
	c.cmd(`p8 LIST "" Entw&APw-rfe`).want(`* LIST (\HasNoChildren) "/" Entw&APw-rfe`, "p8 OK List completed.")
	c.cmd("p9 ENABLE UTF8=ACCEPT").want("* ENABLED UTF8=ACCEPT", "p9 OK Enable completed.")
	c.cmd(`p10 LIST "" Entw&APw-rfe`).want("p10 OK List completed.")
	c.cmd(`p11 LIST "" "Entwürfe"`).want(`* LIST (\HasNoChildren) "/" "Entwürfe"`, "p11 OK List completed.")
}
