package managesieve

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cote/sieve"
)

const (
	goodScript = "require \"fileinto\";\r\nif header :contains \"subject\" \"cote\" {\r\n  fileinto \"Cote\";\r\n}\r\n"
	badScript  = "require \"fileinto\";\r\nfrobnicate;\r\n"
)

func TestCapability(t *testing.T) {
	srv := newServer(t, func(o *Options) {
		o.Extensions = sieve.ExtensionSet{"fileinto": true, "enotify": true, "vacation": true}
	})
	c := srv.dial()
	c.cmd("CAPABILITY").expect(
		`"IMPLEMENTATION" "cote"`,
		`"SIEVE" "enotify fileinto vacation"`,
		`"NOTIFY" "mailto"`,
		`"MAXREDIRECTS" "4"`,
		`"OWNER" "alice"`,
		`"VERSION" "1.0"`,
		`OK "Capability completed."`)
	c.cmd("LOGOUT").expect(`OK "Logout completed."`)
	c.expectEOF()
}

func TestCapabilityOverrides(t *testing.T) {
	srv := newServer(t, func(o *Options) {
		o.Extensions = sieve.ExtensionSet{"fileinto": true}
		o.SieveCapability = "fileinto x-custom"
		o.Implementation = "cote 1.0"
		o.MaxRedirects = 7
		o.User = ""
	})
	srv.dial().cmd("CAPABILITY").expect(
		`"IMPLEMENTATION" "cote 1.0"`,
		`"SIEVE" "fileinto x-custom"`,
		`"MAXREDIRECTS" "7"`,
		`"VERSION" "1.0"`,
		`OK "Capability completed."`)
}

// TestScriptLifecycle walks RFC 5804 section 2's commands on one script.
func TestScriptLifecycle(t *testing.T) {
	srv := newServer(t, nil)
	c := srv.dial()
	c.cmd("LISTSCRIPTS").expect(`OK "Listscripts completed."`)
	c.cmd(`HAVESPACE "main" ` + strconv.Itoa(len(goodScript))).expect(`OK "Putscript would succeed."`)
	c.put("main", goodScript).expect(`OK "PUTSCRIPT completed."`)
	// A synchronizing literal works too: there is no continuation.
	c.cmd("PUTSCRIPT {5}\r\nother {" + strconv.Itoa(len(goodScript)) + "}\r\n" + goodScript).expect(`OK "PUTSCRIPT completed."`)
	c.cmd("LISTSCRIPTS").expect(`"main"`, `"other"`, `OK "Listscripts completed."`)
	c.cmd(`SETACTIVE "main"`).expect(`OK "Setactive completed."`)
	c.cmd("LISTSCRIPTS").expect(`"main" ACTIVE`, `"other"`, `OK "Listscripts completed."`)
	if active, _ := srv.store.Active(); active != "main" {
		t.Errorf("store active = %q, want main", active)
	}
	c.cmd(`GETSCRIPT "main"`).expect("{"+strconv.Itoa(len(goodScript))+"}\r\n"+goodScript, `OK "Getscript completed."`)
	c.cmd(`DELETESCRIPT "main"`).expect(`NO (ACTIVE) "Cannot delete the active script."`)
	c.cmd(`RENAMESCRIPT "main" "other"`).expect(`NO (ALREADYEXISTS) "A script with that name already exists."`)
	c.cmd(`RENAMESCRIPT "main" "renamed"`).expect(`OK "Renamescript completed."`)
	c.cmd("LISTSCRIPTS").expect(`"other"`, `"renamed" ACTIVE`, `OK "Listscripts completed."`)
	c.cmd(`GETSCRIPT "main"`).expect(`NO (NONEXISTENT) "Script does not exist."`)
	c.cmd(`SETACTIVE "nope"`).expect(`NO (NONEXISTENT) "Script does not exist."`)
	c.cmd(`DELETESCRIPT "nope"`).expect(`NO (NONEXISTENT) "Script does not exist."`)
	c.cmd(`RENAMESCRIPT "nope" "x"`).expect(`NO (NONEXISTENT) "Script does not exist."`)
	c.cmd(`SETACTIVE ""`).expect(`OK "Setactive completed."`)
	c.cmd(`DELETESCRIPT "renamed"`).expect(`OK "Deletescript completed."`)
	c.cmd("LISTSCRIPTS").expect(`"other"`, `OK "Listscripts completed."`)
	c.cmd("LOGOUT").expect(`OK "Logout completed."`)
	c.expectEOF()
	if err := <-srv.errs; err != nil {
		t.Errorf("Serve = %v, want nil after LOGOUT", err)
	}
}

func TestCompileErrors(t *testing.T) {
	srv := newServer(t, nil)
	c := srv.dial()
	c.put("bad", badScript)
	got := c.expectPrefix(`NO "2:1: `)
	if !strings.Contains(got, "frobnicate") {
		t.Errorf("PUTSCRIPT error %q does not name the command", got)
	}
	c.cmd("LISTSCRIPTS").expect(`OK "Listscripts completed."`)
	c.cmd("CHECKSCRIPT {" + strconv.Itoa(len(badScript)) + "+}\r\n" + badScript).expectPrefix(`NO "2:1: `)
	c.cmd("CHECKSCRIPT {" + strconv.Itoa(len(goodScript)) + "+}\r\n" + goodScript).expect(`OK "Script is valid."`)
	// An extension that is not enabled is an error.
	vac := "require \"editheader\";\r\n"
	c.cmd("CHECKSCRIPT " + quote(vac)).expectPrefix(`NO "1:`)
	// A script written by other means must compile to be activated.
	if err := os.MkdirAll(srv.store.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srv.store.Dir, "hand.sieve"), []byte(badScript), 0o600); err != nil {
		t.Fatal(err)
	}
	c.cmd(`SETACTIVE "hand"`).expectPrefix(`NO "2:1: `)
	if active, _ := srv.store.Active(); active != "" {
		t.Errorf("broken script activated as %q", active)
	}
}

func TestIncludeWarnings(t *testing.T) {
	srv := newServer(t, nil)
	c := srv.dial()
	inc := "require \"include\";\r\ninclude :personal \"later\";\r\n"
	c.put("main", inc).expect(`OK (WARNINGS) "include: personal script \"later\" does not exist (yet)"`)
	c.put("later", "keep;\r\n").expect(`OK "PUTSCRIPT completed."`)
	c.put("main", inc).expect(`OK "PUTSCRIPT completed."`)
	// A script that includes itself is a loop.
	self := "require \"include\";\r\ninclude \"self\";\r\n"
	got := c.put("self", self).expectPrefix(`NO `)
	if !strings.Contains(got, "loop") {
		t.Errorf("self-include error %q does not say loop", got)
	}
}

// TestIncludeGlobal: a :global include is checked against GlobalDir
// (RFC 6609); a missing one is an error, since the user cannot upload it,
// that does not show the administrator's path; with :optional it may be
// missing.
func TestIncludeGlobal(t *testing.T) {
	global := t.TempDir()
	if err := os.WriteFile(filepath.Join(global, "spam.sieve"), []byte("require \"fileinto\";\r\nfileinto \"Junk\";\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, func(o *Options) { o.GlobalDir = global })
	c := srv.dial()
	c.put("main", "require \"include\";\r\ninclude :global \"spam\";\r\n").expect(`OK "PUTSCRIPT completed."`)
	got := c.put("main", "require \"include\";\r\ninclude :global \"nothere\";\r\n").expectPrefix(`NO `)
	if !strings.Contains(got, `2:1: include global:nothere: global script \"nothere\" does not exist`) || strings.Contains(got, global) {
		t.Errorf("missing global include: %q", got)
	}
	c.put("main", "require \"include\";\r\ninclude :global :optional \"nothere\";\r\n").expect(`OK "PUTSCRIPT completed."`)
	c.cmd("CHECKSCRIPT {45+}\r\nrequire \"include\";\r\ninclude :global \"spam\";\r\n").expect(`OK "Script is valid."`)
}

func TestQuota(t *testing.T) {
	srv := newServer(t, nil)
	srv.store.MaxScripts = 1
	srv.store.MaxSize = 100
	c := srv.dial()
	c.put("a", "keep;\r\n").expect(`OK "PUTSCRIPT completed."`)
	c.put("a", "discard;\r\n").expect(`OK "PUTSCRIPT completed."`) // replacing is no new script
	c.put("b", "keep;\r\n").expect(`NO (QUOTA/MAXSCRIPTS) "Quota exceeded: more than 1 scripts"`)
	c.cmd(`HAVESPACE "b" 10`).expect(`NO (QUOTA/MAXSCRIPTS) "Quota exceeded: more than 1 scripts"`)
	c.cmd(`HAVESPACE "a" 101`).expect(`NO (QUOTA/MAXSIZE) "Quota exceeded: script is larger than 100 bytes"`)
	c.cmd(`HAVESPACE "a" 99999999999`).expect(`NO "HAVESPACE needs a size in bytes (a 32-bit number)."`)
	// An oversized literal is read and dropped; the session goes on.
	big := "# " + strings.Repeat("x", 200) + "\r\nkeep;\r\n"
	c.put("a", big).expect(`NO (QUOTA/MAXSIZE) "Script is too large (211 bytes, at most 100)."`)
	c.cmd("NOOP").expect(`OK "NOOP completed."`)
	c.cmd(`GETSCRIPT "a"`).expect("{10}\r\ndiscard;\r\n", `OK "Getscript completed."`)
}

func TestNoopTagAndMisc(t *testing.T) {
	srv := newServer(t, nil)
	c := srv.dial()
	// RFC 5804 section 2.13's example.
	c.cmd(`NOOP "STARTTLS-SYNC-42"`).expect(`OK (TAG "STARTTLS-SYNC-42") "Done"`)
	c.cmd("NOOP {4+}\r\na\"\\b").expect(`OK (TAG "a\"\\b") "Done"`)
	c.cmd("UNAUTHENTICATE").expect(`NO "UNAUTHENTICATE is not supported."`)
	c.cmd(`AUTHENTICATE "PLAIN"`).expect(`NO "Already authenticated."`)
	c.cmd("STARTTLS").expect(`NO "Already authenticated."`)
	c.cmd("FROB").expect(`NO "Unknown command."`)
	c.cmd("GETSCRIPT main").expect(`NO "Usage: GETSCRIPT <name>."`)
	c.cmd(`PUTSCRIPT "x"`).expect(`NO "Usage: PUTSCRIPT <name> <script>."`)
	c.cmd(`PUTSCRIPT "a/b" "keep;"`).expect(`NO "Invalid script name."`)
	c.cmd(`GETSCRIPT "unterminated`).expect(`NO "Error in MANAGESIEVE command: unterminated quoted string."`)
	// A bad line that announced a literal has it skipped, not run.
	c.cmd("GETSCRIPT ((( {13+}\r\nLISTSCRIPTS\r\n").expect(`NO "Error in MANAGESIEVE command: unexpected character '('."`)
	c.cmd("noop").expect(`OK "NOOP completed."`)
}

func TestLeftover(t *testing.T) {
	srv := newServer(t, func(o *Options) { o.Leftover = []byte("NOOP \"a\"\r\nLIST") })
	c := srv.dial()
	c.expect(`OK (TAG "a") "Done"`)
	c.cmd("SCRIPTS").expect(`OK "Listscripts completed."`)
}

func TestPipelining(t *testing.T) {
	srv := newServer(t, nil)
	c := srv.dial()
	c.send("PUTSCRIPT \"p\" {7+}\r\nkeep;\r\n\r\nSETACTIVE \"p\"\r\nLISTSCRIPTS\r\nLOGOUT\r\n")
	c.expect(`OK "PUTSCRIPT completed."`, `OK "Setactive completed."`, `"p" ACTIVE`, `OK "Listscripts completed."`, `OK "Logout completed."`)
	c.expectEOF()
}

func TestTooManyBadCommands(t *testing.T) {
	srv := newServer(t, nil)
	c := srv.dial()
	for range maxBadCommands - 1 {
		c.cmd("FROB").expect(`NO "Unknown command."`)
	}
	c.cmd("NOOP").expect(`OK "NOOP completed."`) // resets the count
	for range maxBadCommands - 1 {
		c.cmd("FROB").expect(`NO "Unknown command."`)
	}
	c.cmd("FROB").expect(`NO "Unknown command."`, `BYE "Too many invalid commands."`)
	c.expectEOF()
}

func TestLimits(t *testing.T) {
	srv := newServer(t, func(o *Options) { o.MaxLine = 100 })
	c := srv.dial()
	c.cmd(`GETSCRIPT {101+}` + "\r\n" + strings.Repeat("x", 101)).expect(`NO "Literal too large (101 bytes, at most 100 for GETSCRIPT)."`)
	c.cmd("NOOP").expect(`OK "NOOP completed."`)
	c.cmd("PUTSCRIPT \"x\" {99999999+}").expect(`BYE "Literal too large (99999999 bytes)."`)
	c.expectEOF()

	c = srv.dial()
	c.cmd("NOOP " + quote(strings.Repeat("y", 200))).expect(`BYE "Command line too long (at most 100 bytes outside literals)."`)
	c.expectEOF()
}

func TestShutdown(t *testing.T) {
	srv := newServer(t, nil)
	c := srv.dial()
	c.cmd("NOOP").expect(`OK "NOOP completed."`)
	srv.stop()
	c.expect(`BYE (TRYLATER) "Server shutting down."`)
	c.expectEOF()
}

func TestNoStore(t *testing.T) {
	ln := newServer(t, func(o *Options) { o.Store = nil })
	c, err := dialRaw(ln.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, _ := c.Read(buf)
	if got := string(buf[:n]); got != Unavailable {
		t.Errorf("without Store or Home: got %q, want %q", got, Unavailable)
	}
}
