#!/bin/bash
# bench/run.sh — what `make bench` runs: cote and Dovecot 2.3 side by side
# on loopback, the same users and the same preloaded Maildirs, measured by
# cmd/cote-bench, the results written into docs/benchmarks.md.
#
# Each server runs alone: cote, then Dovecot stock, then Dovecot tuned
# (service imap-login { service_count = 0; process_min_avail = nproc }),
# each on fresh homes hard-linked from one generated Maildir set, so that
# every server indexes the same files on its first SELECT.
#
# Knobs (environment; the defaults finish in about 15-20 minutes on 2 cores):
#   BENCH_BIG="20000 100000"  sizes of the big mailboxes (users big<N>)
#   BENCH_USERS=400           ordinary users (bench0 ..)
#   BENCH_PRELOAD=40          messages in each ordinary user's INBOX at the start
#   BENCH_TIME=10s            duration of the login, LMTP and APPEND runs
#   BENCH_IDLE=1000           IDLE connections (3 per user)
#   BENCH_IDLE_MAX=10000      then, for cote only, this many (4 per user; 0: not)
#   BENCH_IDLE_SETTLE=60s     wait before measuring them (> imap_hibernate_timeout
#                             plus the worker's idle_kill linger, 30 s + 10 s)
#   BENCH_OP_TIMEOUT=120s     bound on one SELECT, FETCH, SEARCH
#   BENCH_TARGETS="cote dovecot-stock dovecot-tuned"
#   BENCH_OUT=docs/benchmarks.md   (empty: do not write it)
#   BENCH_KEEP=1              keep the work directory (logs, JSON)
#   BENCH_COTE=/path/cote     a cote binary to use instead of building ./cmd/cote
#                             (with the cote-worker beside it, if there is one)
#   IMAPTEST=/path/imaptest   also run imaptest's default mix and logout=0
#   IMAPTEST_SECS=60
#   BENCH_SCENARIOS=all       cote-bench scenarios to run (e.g. "lmtp fetch"; none: only imaptest)
#   BENCH_FS=journal          work directory on a fresh journaled ext4 (loop); none: on /var/tmp
#   BENCH_PORT_BASE=21000     IMAP on +143, POP3 on +110, LMTP on +24
#   BENCH_COTE_EXTRA=         lines appended to cote's config (e.g. "admin_pprof = yes")
# A quick smoke run: BENCH_BIG=2000 BENCH_TIME=2s BENCH_IDLE=60 BENCH_IDLE_SETTLE=1s
set -euo pipefail

# Everything is in main, so that bash has read the whole file before it
# runs any of it: editing this file during a run does not change the run.
main() {
BIG=${BENCH_BIG:-20000 100000}
NUSERS=${BENCH_USERS:-400}
PRELOAD=${BENCH_PRELOAD:-40}
DUR=${BENCH_TIME:-10s}
IDLE=${BENCH_IDLE:-1000}
IDLE_MAX=${BENCH_IDLE_MAX:-10000}
IDLE_MAX_PER_USER=4
SETTLE=${BENCH_IDLE_SETTLE:-60s}
OPTIMEOUT=${BENCH_OP_TIMEOUT:-120s}
TARGETS=${BENCH_TARGETS:-cote dovecot-stock dovecot-tuned}
OUT=${BENCH_OUT-docs/benchmarks.md}
IMAPTEST=${IMAPTEST:-}
IMAPTEST_SECS=${IMAPTEST_SECS:-60}
POP3N=1000
FIRST_UID=50100
SCENARIOS=${BENCH_SCENARIOS:-all}
PORT_BASE=${BENCH_PORT_BASE:-21000}
IMAP_PORT=$((PORT_BASE + 143)) POP3_PORT=$((PORT_BASE + 110)) LMTP_PORT=$((PORT_BASE + 24))

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Room for BENCH_IDLE_MAX connections on both ends (root may raise the hard limit).
ulimit -n 65536 2>/dev/null || true
[ "$(id -u)" = 0 ] || die "needs root: the servers switch to each user's uid (sudo make bench)"
cd "$(dirname "$0")/.."
REPO=$PWD

# Debian's Dovecot, installed when missing.
if [ ! -x /usr/sbin/dovecot ] || [ ! -x /usr/lib/dovecot/lmtp ] || [ ! -x /usr/lib/dovecot/pop3 ]; then
	say "installing Dovecot (dovecot-imapd dovecot-pop3d dovecot-lmtpd)"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd dovecot-pop3d dovecot-lmtpd >/dev/null
fi
DOVECOT_VERSION=$(dovecot --version)

# server tree: the pids under $1, for the final check that none is left.
tree() {
	local all=" $1 " changed=1 pid ppid
	while [ $changed = 1 ]; do
		changed=0
		for stat in /proc/[0-9]*/stat; do
			read -r pid _ _ ppid _ 2>/dev/null <"$stat" || continue
			if [[ $all == *" $ppid "* && $all != *" $pid "* ]]; then all+="$pid "; changed=1; fi
		done
	done
	echo $all
}

stop_server() {
	[ -n "$SERVER_PID" ] || return 0
	local pids i
	pids=$(tree "$SERVER_PID")
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
	for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
	if [ -n "$CGROUP" ]; then
		for ((i = 0; i < 50; i++)); do rmdir "$CGROUP" 2>/dev/null && break; sleep 0.1; done
		CGROUP=
	fi
}

# in_cgroup runs a command in $CGROUP, when there is one.
in_cgroup() {
	if [ -n "$CGROUP" ] && ! echo "$BASHPID" >"$CGROUP/cgroup.procs"; then
		echo "bench: cannot move the server into $CGROUP" >&2
		exit 1
	fi
	exec "$@"
}

# make_cgroup makes a cgroup for one server and prints its directory, or
# nothing where none can be made. The server runs in it, and cote-bench
# reads its CPU time there: the kernel's count in nanoseconds of every
# process the server ever had. Summing /proc/PID/stat over the process
# tree instead loses up to two clock ticks (20 ms) for each process that
# starts during a scenario and is still running at its end, which cote's
# workers do by the hundred.
make_cgroup() { # name
	local base dir
	for base in /sys/fs/cgroup/unified /sys/fs/cgroup; do
		if [ -f "$base/cgroup.procs" ] && [ "$(stat -f -c %T "$base")" = cgroup2fs ]; then
			dir=$base/$1
			mkdir -p "$dir" 2>/dev/null && [ -f "$dir/cpu.stat" ] && { echo "$dir"; return; }
		fi
	done
	for base in /sys/fs/cgroup/cpuacct /sys/fs/cgroup/cpu,cpuacct; do
		if [ -f "$base/cpuacct.usage" ]; then
			dir=$base/$1
			mkdir -p "$dir" 2>/dev/null && [ -f "$dir/cpuacct.usage" ] && { echo "$dir"; return; }
		fi
	done
}

WORK=$(mktemp -d /var/tmp/cote-bench.XXXXXX)
# The work directory is a fresh ext4 with a journal (mkfs's defaults, as
# on a mail server), in a sparse file on a loop device. Where the
# machine's own file system has no journal (this project's CI machines),
# ext4 makes each file creation skip every inode deleted in the last 5 to
# 300 s: a server run after another one's homes were removed paid for
# them, and file creation was 15% of cote's CPU under LMTP. BENCH_FS=none
# keeps the work directory on /var/tmp's file system.
IMG=
if [ "${BENCH_FS:-journal}" = journal ]; then
	IMG=$WORK.img
	truncate -s "${BENCH_FS_SIZE:-24G}" "$IMG"
	# No lazy initialisation: it would write the inode tables during the run.
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$IMG"
	mount -o loop "$IMG" "$WORK" || die "cannot mount $IMG (BENCH_FS=none runs without it)"
fi
chmod 755 "$WORK"
SERVER_PID=
CGROUP=
CGROUP_KIND=
cleanup() {
	stop_server || true
	if [ -n "${BENCH_KEEP:-}" ]; then
		say "kept $WORK${IMG:+ (a loop mount of $IMG: umount it, then remove both)}"
		return
	fi
	if [ -n "$IMG" ]; then
		umount "$WORK" && rm -f "$IMG" && rmdir "$WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for p in $IMAP_PORT $POP3_PORT $LMTP_PORT; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "port $p is in use"; fi
done

say "work directory $WORK"
# The source the binaries are built from, named now: the tree may change
# during the run.
COMMIT=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
mkdir -m 755 "$WORK/bin"
if [ -n "${BENCH_COTE:-}" ]; then
	cp "$BENCH_COTE" "$WORK/bin/cote"
	w=$(dirname "$BENCH_COTE")/cote-worker
	if [ -x "$w" ]; then cp "$w" "$WORK/bin/cote-worker"; fi
else
	# cote and cote-worker, which workers run from (docs/ipc.md, "Executables").
	make -s build BIN="$WORK/bin"
fi
go build -o "$WORK/bin/cote-bench" ./cmd/cote-bench
BENCH=$WORK/bin/cote-bench

# Users: bench0 .. bench<N-1>, big<size> for each big mailbox, pop1k;
# password "pass" for all, one uid each.
USERS=()
ACCOUNTS=$(( NUSERS > (IDLE + 2) / 3 ? NUSERS : (IDLE + 2) / 3 ))
MAXUSERS=$(( (IDLE_MAX + IDLE_MAX_PER_USER - 1) / IDLE_MAX_PER_USER ))
[ "$ACCOUNTS" -ge "$MAXUSERS" ] || ACCOUNTS=$MAXUSERS
for ((i = 0; i < ACCOUNTS; i++)); do USERS+=("bench$i"); done
FETCH_USERS=
for n in $BIG; do USERS+=("big$n"); FETCH_USERS+="${FETCH_USERS:+,}big$n"; done
USERS+=(pop1k)
declare -gA UID_OF
for i in "${!USERS[@]}"; do UID_OF[${USERS[$i]}]=$((FIRST_UID + i)); done
uid_of() { echo "${UID_OF[$1]}"; }

# One generated Maildir per big user, shared by hard links: servers only
# rename and add files, never rewrite one.
SEED=$WORK/seed
start=$(date +%s)
for n in $BIG; do
	u=big$n
	say "generating $n messages for $u"
	"$BENCH" gen-maildir -n "$n" -dir "$SEED/$u" -uid "$(uid_of "$u")" -to "$u@bench.example"
done
"$BENCH" gen-maildir -n $POP3N -dir "$SEED/pop1k" -uid "$(uid_of pop1k)" -to pop1k@bench.example
# Each ordinary user's INBOX starts with PRELOAD messages of its own
# (numbers from 500,000: imaptest tells messages apart by Message-ID, and
# one number is the same bytes in every mailbox). imaptest appends to a
# mailbox only while it holds fewer than about 30 messages, and deletes
# more from one that holds more, so from the few messages the LMTP
# scenario leaves its APPEND count per login fell as a run went on,
# and fell sooner for the faster server (each user's mailbox fills in
# about 40 logins: cote's 60 s gave each user 67, Dovecot's 20-32). From
# 40 messages every server's mix is the settled one from the first
# minute on.
for ((i = 0; i < NUSERS && PRELOAD > 0; i++)); do
	"$BENCH" gen-maildir -n "$PRELOAD" -first $((500000 + i * PRELOAD)) -dir "$SEED/bench$i" \
		-uid "$(uid_of "bench$i")" -to "bench$i@bench.example"
done
[ -z "$IMAPTEST" ] || "$BENCH" gen-mbox -n 1000 -o "$WORK/imaptest.mbox"
say "fixtures made in $(($(date +%s) - start)) s ($(du -sh "$SEED" | cut -f1))"

wait_greeting() { # port name
	local i
	for ((i = 0; i < 200; i++)); do
		if { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null; then
			local line=
			read -r -t 5 line <&3 || true
			exec 3>&-
			[[ $line == "* OK"* ]] && return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	say "$2 did not greet on port $1; its log:"
	tail -30 "$3" >&2 || true
	return 1
}

JSONS=()
run_target() { # label
	local t=$1 dir=$WORK/$1 u uid home conf log
	mkdir -m 755 "$dir" "$dir/home"
	: >"$dir/users"
	for u in "${USERS[@]}"; do
		uid=$(uid_of "$u")
		home=$dir/home/$u
		mkdir -m 700 "$home"
		[ -d "$SEED/$u" ] && cp -al "$SEED/$u" "$home/Maildir"
		chown "$uid:$uid" "$home"
		echo "$u:{PLAIN}pass:$uid:$uid::$home::" >>"$dir/users"
	done
	CGROUP=$(make_cgroup "$(basename "$WORK")-$t")
	if [ -n "$CGROUP" ]; then
		CGROUP_KIND=yes
	else
		CGROUP_KIND=
		say "$t: no cgroup could be made; server CPU is summed over its process tree"
	fi
	local subst=(-e "s#@DIR@#$dir#g" -e "s/@IMAP_PORT@/$IMAP_PORT/" -e "s/@POP3_PORT@/$POP3_PORT/"
		-e "s/@LMTP_PORT@/$LMTP_PORT/" -e "s/@IMAP_PROCESS_LIMIT@/$((IDLE + IDLE_MAX + NUSERS + 100))/")
	case $t in
	cote)
		conf=$dir/cote.conf log=$dir/cote.log
		mkdir -p "$dir/run" "$dir/state"
		sed "${subst[@]}" bench/cote.conf.tmpl >"$conf"
		[ -z "${BENCH_COTE_EXTRA:-}" ] || printf '%s\n' "$BENCH_COTE_EXTRA" >>"$conf"
		in_cgroup setsid "$WORK/bin/cote" -c "$conf" >"$dir/stdout" 2>&1 </dev/null &
		;;
	dovecot-stock | dovecot-tuned)
		local tuning=
		[ "$t" = dovecot-tuned ] && tuning="  service_count = 0\n  process_min_avail = $(nproc)"
		conf=$dir/dovecot.conf log=$dir/dovecot.log
		mkdir -p "$dir/run" "$dir/state"
		sed "${subst[@]}" -e "s/@IMAP_LOGIN_TUNING@/$tuning/" bench/dovecot.conf.tmpl >"$conf"
		in_cgroup setsid dovecot -F -c "$conf" >"$dir/stdout" 2>&1 </dev/null &
		;;
	*) die "unknown target $t" ;;
	esac
	SERVER_PID=$!
	local srv=(-pid "$SERVER_PID")
	[ -z "$CGROUP" ] || srv+=(-cgroup "$CGROUP")
	wait_greeting $IMAP_PORT "$t" "$log" || { stop_server; return 1; }
	say "$t: running as pid $SERVER_PID"
	if [ "$SCENARIOS" != none ]; then
		# shellcheck disable=SC2086 # SCENARIOS is a list of words
		"$BENCH" -label "$t" "${srv[@]}" -imap 127.0.0.1:$IMAP_PORT -pop3 127.0.0.1:$POP3_PORT \
			-lmtp 127.0.0.1:$LMTP_PORT -users "$NUSERS" -fetch-users "$FETCH_USERS" \
			-login-time "$DUR" -lmtp-time "$DUR" -append-time "$DUR" -op-timeout "$OPTIMEOUT" \
			-idle-conns "$IDLE" -idle-settle "$SETTLE" ${COTE_BENCH_ARGS:-} -json "$WORK/$t.json" $SCENARIOS |
			tee "$dir/table.txt"
		JSONS+=("$WORK/$t.json")
	fi
	if [ "$t" = cote ] && [ "$IDLE_MAX" -gt 0 ]; then
		"$BENCH" -label "$t" "${srv[@]}" -imap 127.0.0.1:$IMAP_PORT -op-timeout 10m \
			-idle-conns "$IDLE_MAX" -idle-per-user $IDLE_MAX_PER_USER -idle-settle "$SETTLE" \
			-idle-name "idle $(echo "$IDLE_MAX" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')" \
			-json "$WORK/$t-idlemax.json" idle | tee -a "$dir/table.txt"
		JSONS+=("$WORK/$t-idlemax.json")
	fi
	if [ -n "$IMAPTEST" ]; then
		local args=(-bin "$IMAPTEST" -label "$t" "${srv[@]}" -imap 127.0.0.1:$IMAP_PORT -users $((NUSERS - 1))
			-secs "$IMAPTEST_SECS" -mbox "$WORK/imaptest.mbox")
		"$BENCH" imaptest "${args[@]}" -raw "$dir/imaptest.out" -json "$WORK/$t-imaptest.json" &&
			JSONS+=("$WORK/$t-imaptest.json")
		"$BENCH" imaptest "${args[@]}" -logout0 -raw "$dir/imaptest0.out" -json "$WORK/$t-imaptest0.json" &&
			JSONS+=("$WORK/$t-imaptest0.json")
	fi
	stop_server
	grep -E 'panic|fatal|Panic' "$log" "$dir/stdout" 2>/dev/null | head -5 >&2 || true
	rm -rf "$dir/home"
}

# cpu_busy prints the percentage of the machine's CPU time that was busy
# (neither idle nor waiting for I/O) over the next two seconds.
cpu_busy() {
	local a b
	a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
	sleep 2
	b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
	echo "$a $b" | awk '{busy=$3-$1; all=busy+$4-$2; print (all > 0 ? int(100*busy/all) : 0)}'
}

# wait_quiet waits, at most two minutes, until the machine is under 10%
# busy: each server starts on a machine the previous one has left (the
# load average decays for minutes and says little about the moment; a
# Dovecot run that started while cote's imaptest load was still going
# away measured slower).
wait_quiet() {
	local i busy
	for i in $(seq 60); do
		busy=$(cpu_busy)
		[ "$busy" -lt 10 ] && return 0
	done
	say "the machine is still $busy% busy; going on"
}

for t in $TARGETS; do
	# Nothing left to write back when a server starts: the fixtures'
	# gigabytes (before the first) and the previous server's removed homes
	# were written out during its first scenarios otherwise, and its
	# fsyncs waited behind them.
	sync -f "$WORK"
	wait_quiet
	say "=== $t"
	run_target "$t" || say "$t: failed; going on"
done

[ -n "$OUT" ] || exit 0
cat >"$WORK/notes.md" <<EOF
cote $COMMIT (built as \`make build\` does, cote and cote-worker, $(go env GOVERSION)) and Debian's Dovecot $DOVECOT_VERSION, one after
the other on the same machine, on loopback without TLS (plaintext LOGIN). Both use a passwd-file of
$((${#USERS[@]})) users (\`{PLAIN}\` passwords, one uid each), Maildir in each home, \`mail_fsync = optimized\`
(the default of both: a message is on disk before LMTP's 250 or APPEND's OK), Debian's stock namespace
(special-use mailboxes, none created at login), and the configs in
\`bench/cote.conf.tmpl\` and \`bench/dovecot.conf.tmpl\`. *dovecot-tuned* adds
\`service imap-login { service_count = 0; process_min_avail = $(nproc) }\`.
Each server starts on fresh homes hard-linked from the same generated Maildirs
(mailboxes of $(echo $BIG | sed 's/ / and /') messages, 4-50 KB, a third multipart; a POP3 maildrop of $POP3N),
without any index: the FETCH scenario's *first* figures include each server's indexing of them. The
search scenario comes after the FETCH one and a wait for a quiet server (each scenario's), so its
*first* figures are a new session's on a mailbox the server has seen once: cote's text index was
filled in the background meanwhile, by the worker the FETCH sessions left. Each server runs in a
cgroup of its own$( [ -n "$CGROUP_KIND" ] || echo " (none could be made on this machine: CPU and PSS are then its process tree's)"); its CPU is the cgroup's (the kernel's count, in nanoseconds, of every process
it had), PSS the sum of \`/proc/PID/smaps_rollup\` over its processes.
EOF
CMDS="sudo make bench   # = bench/run.sh; scale down with e.g. BENCH_BIG=20000 BENCH_IDLE=300; IMAPTEST=/path/to/imaptest adds imaptest
# per server, what run.sh runs:
cote-bench -label LABEL -pid MASTER_PID -cgroup CGROUP -imap 127.0.0.1:$IMAP_PORT -pop3 127.0.0.1:$POP3_PORT -lmtp 127.0.0.1:$LMTP_PORT -users $NUSERS -fetch-users $FETCH_USERS -login-time $DUR -lmtp-time $DUR -append-time $DUR -op-timeout $OPTIMEOUT -idle-conns $IDLE -idle-settle $SETTLE all"
[ -z "$IMAPTEST" ] || CMDS+="
cote-bench imaptest -bin imaptest -pid MASTER_PID -cgroup CGROUP -imap 127.0.0.1:$IMAP_PORT -users $((NUSERS - 1)) -secs $IMAPTEST_SECS -mbox imaptest.mbox [-logout0]"
[ ${#JSONS[@]} -gt 0 ] || die "no results"
"$BENCH" report -o "$OUT" -notes "$WORK/notes.md" -commands "$CMDS" "${JSONS[@]}"
say "wrote $OUT"
}

main "$@"
