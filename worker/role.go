package worker

import (
	"time"

	"cote/child"
)

// RunRole is the worker role's body, shared by the cote binary (which
// runs every role) and cote-worker (which runs only this one).
func RunRole(p *child.Process) error {
	var linger time.Duration
	if svc := p.Config.Service("worker"); svc != nil {
		linger = svc.IdleKill
	}
	return Run(Options{Ctl: p.Ctl, Settings: p.Config, Log: p.Log, LogLevel: p.LogLevel, Linger: linger, Done: p.Done, Metrics: p.Metrics})
}
