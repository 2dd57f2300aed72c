// Command cote-worker runs the cote master's per-user worker role and
// nothing else. It is a build of the same source as cote without the
// other roles' code (auth and its PAM, LDAP and SQL drivers, the login
// processes, the master and its Prometheus client), linked statically,
// so that starting a worker, which happens at a user's first login or
// delivery, costs about half the CPU time of starting cote
// (docs/ipc.md, "Executables"). The master uses it when it finds it
// next to cote with the same Identity; without it, workers run from cote.
package main

import (
	"fmt"
	"os"

	"cote/child"
	"cote/proto"
	"cote/worker"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == child.IdentityFlag {
		fmt.Println(child.Identity())
		return
	}
	nameThreads("cote-worker")
	os.Exit(child.Run(proto.RoleWorker, worker.RunRole))
}

// nameThreads gives every thread of the process the name. The master
// executes this file through a descriptor it holds (/proc/self/fd/N),
// which names the process and each thread "N" until they say otherwise;
// ps, top -H and perf then show cote-worker. Threads the runtime starts
// later take the name of the thread that starts them.
func nameThreads(name string) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	for _, t := range tasks {
		os.WriteFile("/proc/self/task/"+t.Name()+"/comm", []byte(name), 0)
	}
}
