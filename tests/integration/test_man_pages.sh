#!/usr/bin/env bash
# The manual pages in docs/man: each renders with groff without a warning;
# ringmta.conf(5) lists every key of src/config_keys.c (found here with a
# parser of its own, not the generator's) and is what tools/gen_man_conf.py
# makes of config_keys.c and docs/CONFIG.md today; ringctl(8) describes
# every command of tools/ringctl.c's table and ringmta(8) every long
# option of src/main.c.  Starts no daemon.
source "$(dirname "$0")/lib.sh"
TOP=$(cd "$(dirname "$0")/../.." && pwd)
MAN=$TOP/docs/man
command -v groff >/dev/null || t_skip "groff missing"

# render PAGE: groff with every warning on; fails on any output to stderr.
render() {
	local err
	err=$(groff -man -Tutf8 -ww -z "$1" 2>&1) || return 1
	[ -z "$err" ] || { echo "$err"; return 1; }
}

# missing_words PAGE WORD...: print the WORDs for which the page has no
# entry: a line that starts with \fBWORD\fR (after "\fB\-x\fR, " for a
# long option with a short one), as the .TP lists set them.
missing_words() {
	/usr/bin/python3 - "$@" <<'PY'
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
for w in sys.argv[2:]:
    e = re.escape(w.replace("-", "\\-"))
    if not re.search(r"^(?:\\fB\\-[a-zA-Z]\\fR, )?\\fB%s\\fR" % e, page,
                     re.M):
        print(w)
PY
}

# The key names of config_keys.c: the first string of every key-table
# entry (the CONFIG_*K*( macros), outside the #define lines.
config_keys() {
	/usr/bin/python3 - "$TOP/src/config_keys.c" <<'PY'
import re, sys
src = open(sys.argv[1], encoding="utf-8").read()
src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
src = re.sub(r"^#define.*?(?<!\\)$", "", src, flags=re.M | re.S)
names = set()
for m in re.finditer(r"CONFIG_(?:PK|PT|KE|K|SK|LK|QK|RK|DK|TK|BK)\s*\(([^;]*?)\"([a-z0-9_]+)\"", src):
    names.add(m.group(2))
print("\n".join(sorted(names)))
PY
}

case_render() {
	local p
	for p in ringmta.8 ringctl.8 ringmta.conf.5; do
		[ -s "$MAN/$p" ] || { echo "$p missing"; return 1; }
		render "$MAN/$p" || { echo "$p: groff warnings"; return 1; }
	done
}

# every_entry PAGE MIN WORD...: PAGE has an entry for every WORD, and
# there are at least MIN words (an extraction that finds nothing must not
# pass).
every_entry() {
	local page=$1 min=$2 miss
	shift 2
	[ $# -ge "$min" ] || { echo "only $# words found: $*"; return 1; }
	miss=$(missing_words "$page" "$@") || return 1
	[ -z "$miss" ] || { echo "not in $(basename "$page"): ${miss//$'\n'/ }"; return 1; }
}

# every key of config_keys.c's tables (> 60 of them)
case_conf_every_key() {
	# shellcheck disable=SC2046
	every_entry "$MAN/ringmta.conf.5" 60 $(config_keys)
}

case_conf_generated() {
	/usr/bin/python3 "$TOP/tools/gen_man_conf.py" --check
}

# every command of ringctl_cmds[] in tools/ringctl.c
case_ringctl_every_command() {
	# shellcheck disable=SC2046
	every_entry "$MAN/ringctl.8" 10 $(sed -n \
		'/ringctl_cmds\[\] = {/,/^};/s/^[[:space:]]*{"\([a-z]*\)".*/\1/p' \
		"$TOP/tools/ringctl.c")
}

# every long option of longopts[] in src/main.c
case_ringmta_every_option() {
	# shellcheck disable=SC2046
	every_entry "$MAN/ringmta.8" 5 $(sed -n \
		'/longopts\[\] = {/,/};/s/^[[:space:]]*{"\([a-z-]*\)".*/--\1/p' \
		"$TOP/src/main.c")
}

for c in render conf_every_key conf_generated ringctl_every_command \
	ringmta_every_option; do
	t_case "$c"
	if "case_$c"; then t_ok; else t_fail "$c"; fi
done
t_finish
