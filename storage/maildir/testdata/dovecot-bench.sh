#!/bin/sh
# Times Debian's Dovecot on the Maildir of the storage benchmarks
# (docs/benchmarks.md, "Storage, 100,000 messages"). Run as root after
# the Go benchmarks built their fixture:
#
#   SUBJECT_WORD=... sh storage/maildir/testdata/dovecot-bench.sh /var/tmp/cotebench/cote-bench-100000-v2/Maildir
#
# The messages (cur/) and cote's dovecot-uidlist are copied into a fresh
# Dovecot home, so Dovecot sees the same files, UIDs and flags. doveadm
# runs as nobody on a private configuration with Dovecot's defaults
# (mail_fsync=optimized, no fts plugin: SEARCH TEXT reads every message).
set -eu
src=$1
dir=${DOVECOT_BENCH_DIR:-/var/tmp/dovecot-bench}
rm -rf "$dir"
mkdir -p "$dir/run" "$dir/state" "$dir/home/Maildir"
cp -a "$src/cur" "$src/new" "$src/tmp" "$src/dovecot-uidlist" "$dir/home/Maildir/"
cat > "$dir/dovecot.conf" <<CONF
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
first_valid_uid = 1
mail_uid = nobody
mail_gid = nogroup
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
}
protocols =
ssl = no
CONF
chown -R nobody:nogroup "$dir/home"
chmod 755 "$dir"
export HOME=$dir/home USER=test
D="doveadm -c $dir/dovecot.conf"
t() { # label, command...
	label=$1; shift
	s=$(date +%s.%N)
	"$@" >/dev/null
	e=$(date +%s.%N)
	echo "$label: $(echo "$e - $s" | bc) s"
}
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
doveconf -c "$dir/dovecot.conf" mail_never_cache_fields mail_cache_fields mail_fsync 2>/dev/null || true
drop
t "index build (first mailbox status)" $D mailbox status messages INBOX
t "open/select (mailbox status, warm)" $D mailbox status messages INBOX
drop
t "fetch envelope+bodystructure, first (cold, no cache)" $D fetch 'uid flags imap.envelope imap.bodystructure' mailbox INBOX all
t "fetch envelope+bodystructure, warm" $D fetch 'uid flags imap.envelope imap.bodystructure' mailbox INBOX all
t "fetch envelope+bodystructure, warm again" $D fetch 'uid flags imap.envelope imap.bodystructure' mailbox INBOX all
drop
t "fetch envelope+bodystructure, cold (page cache dropped, Dovecot cache filled)" $D fetch 'uid flags imap.envelope imap.bodystructure' mailbox INBOX all
drop
t "search text xylophonically, cold" $D search mailbox INBOX text xylophonically
t "search text xylophonically, warm" $D search mailbox INBOX text xylophonically
echo "matches: $($D search mailbox INBOX text xylophonically | wc -l)"
# SUBJECT_WORD: the word BenchmarkSearchSubject searches for (subjectWord).
if [ -n "${SUBJECT_WORD:-}" ]; then
	t "search subject $SUBJECT_WORD, first" $D search mailbox INBOX subject "$SUBJECT_WORD"
	t "search subject $SUBJECT_WORD, again" $D search mailbox INBOX subject "$SUBJECT_WORD"
	echo "matches: $($D search mailbox INBOX subject "$SUBJECT_WORD" | wc -l)"
fi
t "100 x flag change (+\\Flagged/-\\Flagged, one doveadm each)" sh -c "for i in \$(seq 1 50); do $D flags add '\\Flagged' mailbox INBOX uid \$((i*1999)); $D flags remove '\\Flagged' mailbox INBOX uid \$((i*1999)); done"
$D mailbox create Bench
msg=$(sed -n 1p "$dir/home/Maildir/dovecot-uidlist" >/dev/null; ls "$dir/home/Maildir/cur" | head -1)
t "100 x save into INBOX (one doveadm save each)" sh -c "for i in \$(seq 1 100); do $D save < '$dir/home/Maildir/cur/$msg'; done"
t "100 x doveadm process overhead (mailbox status)" sh -c "for i in \$(seq 1 100); do $D mailbox status messages Bench; done"
du -sh "$dir/home/Maildir/dovecot.index"* 2>/dev/null || true
