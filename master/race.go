//go:build race

package master

// raceEnabled: race-detector builds reserve terabytes of address space,
// so no RLIMIT_AS is applied to children.
const raceEnabled = true
