package child

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"cote/config"
	"cote/proto"
)

// Run runs role in this process as the master started it, with run as
// the role's body, and returns the process's exit status: 2 when the
// start-up contract fails (run by hand, say), 1 when run fails.
func Run(role string, run func(*Process) error) int {
	var slackErr error
	if role == proto.RoleWorker && !workerTimerSlackSet(workerTimerSlack) {
		slackErr = setTimerSlack(workerTimerSlack) // before Start drops privileges
	}
	p, err := Start(role)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cote %s: %v\n", role, err)
		return 2
	}
	if slackErr != nil {
		p.Log.Debug("timer slack set on the main thread only", "err", slackErr)
	}
	if err := run(p); err != nil {
		p.Log.Error("exiting on error", "err", err)
		return 1
	}
	return 0
}

// IdentityFlag is the argument on which a role binary prints its
// Identity and exits.
const IdentityFlag = "-identity"

// Identity says what a child built from this source expects of the
// master: the control protocol (proto.Fingerprint), the configuration
// it is sent (the JSON of a sample config.Settings), the Go release and
// the source revision when the build recorded one. Two binaries of the
// same build have the same identity; the master starts workers from a
// separate worker binary only when its identity is the master's own
// (master/workerexe.go).
func Identity() string {
	h := sha256.New()
	fmt.Fprintf(h, "protocol %s\ngo %s\n", proto.Fingerprint(), runtime.Version())
	var s config.Settings
	proto.Sample(&s)
	if b, err := json.Marshal(&s); err == nil {
		h.Write(b)
	} else {
		fmt.Fprintf(h, "settings: %v\n", err)
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range bi.Settings {
			switch kv.Key {
			case "vcs.revision", "vcs.modified":
				fmt.Fprintf(h, "%s=%s\n", kv.Key, kv.Value)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
