#!/usr/bin/env bash
# test_client.sh: the outbound SMTP client engine (src/smtp_client*.c)
# against real peers on loopback, through tests/integration/smtpcdrv.c
# (built here by t_build_prog against $RINGMTA_BUILD/libcore.a; one JSON
# line per recipient, per session and a summary): ringsink
# ($RINGMTA_BUILD/ringsink: byte-exact bodies through --maildir, every
# scriptable fault, reuse, PIPELINING on and off, 8BITMIME and SIZE
# refusals, source binding, STARTTLS with the tls_fixture.sh
# certificates), aiosmtpd (a Controller whose handle_DATA
# keeps the bytes; no PIPELINING) and a private Postfix smtpd (its own
# config and queue under $T_DIR, mail parked in the hold queue; plaintext
# and STARTTLS).  Every daemon listens on 127.0.0.1 on a kernel-chosen
# port and is stopped by pid (Postfix by `postfix -c DIR stop`) on exit.
# A missing aiosmtpd or Postfix fails its cases loudly; it never passes.
cd "$(dirname "$0")/../.." || exit 1
source tests/integration/lib.sh

SINK=$T_BUILD/ringsink
PY=/usr/bin/python3
[ -x "$SINK" ] || t_skip "$SINK not built"
chmod 755 "$T_DIR" # the private Postfix's daemons reach it as user postfix

DRV=$T_DIR/smtpcdrv
t_build_prog "$DRV" tests/integration/smtpcdrv.c
"$DRV" --dst 127.0.0.1:1 >/dev/null 2>&1
[ $? -eq 77 ] && t_skip "io_uring unavailable"

CERTS=$T_DIR/certs
sh tests/unit/tls_fixture.sh "$CERTS" >/dev/null ||
	{ echo "tls_fixture.sh failed"; exit 1; }

# ---- the messages -------------------------------------------------------
# Each body file NAME has NAME.exp: the bytes a correct client delivers
# (the body with CRLF added when it does not end with a line ending).
MSG=$T_DIR/msg
mkdir -p "$MSG"
"$PY" - "$MSG" <<'PY'
import os, sys
d = sys.argv[1]
def put(name, body):
    open(os.path.join(d, name), "wb").write(body)
    exp = body if body == b"" or body.endswith(b"\r\n") else body + b"\r\n"
    open(os.path.join(d, name + ".exp"), "wb").write(exp)
hdr = lambda n: b"Subject: %s\r\nMessage-ID: <%s@client.test>\r\n\r\n" % (
    n.encode(), n.encode())
put("dots", b".\r\n" + hdr("dots") + b".\r\n..\r\n.x\r\nx.\r\n...\r\n"
    b". \r\n.\r\n\r\n.\r\nend\r\n.")
put("long998", hdr("long998") + b"a" * 998 + b"\r\n" + b"." * 998 +
    b"\r\n" + b".b" + b"c" * 996 + b"\r\n" + b"d" * 998 + b"\r\n")
put("eightbit", hdr("eightbit") + bytes(range(0x80, 0x100)) +
    b"\r\n\xc3\xa9t\xc3\xa9 \xff\xfe.\r\n.\xe2\x82\xac\r\n")
put("nocrlf", hdr("nocrlf") + b"line one\r\nno final line ending")
put("nocrlfdot", hdr("nocrlfdot") + b"body\r\n.")
put("empty", b"")
put("small", hdr("small") + b"hello\r\n")
put("k20", hdr("k20") + (b"x" * 78 + b"\r\n") * 256)
line = b"The quick brown fox jumps over the lazy dog 0123456789 !#$%&'*+-/=?^\r\n"
blk = (line * 14 + b".leading dot\r\n..two\r\n.\r\n") * 64
with open(os.path.join(d, "big"), "wb") as f:
    f.write(hdr("big"))
    n = len(hdr("big"))
    while n < 50 * 1024 * 1024:
        f.write(blk)
        n += len(blk)
os.link(os.path.join(d, "big"), os.path.join(d, "big.exp"))
m1 = b"".join(line for _ in range(15000))
put("mb1", hdr("mb1") + m1)
PY

# manifest NAME LINE...: write $MSG/NAME.man (FILE FROM RCPT... per line).
manifest() {
	local n=$1
	shift
	printf '%s\n' "$@" >"$MSG/$n.man"
}

# ---- ringsink -------------------------------------------------------------
# start_sink NAME ARGS...: a ringsink in $T_DIR/NAME; sets SD, SP, PORT.
start_sink() {
	SD=$T_DIR/$1
	shift
	mkdir -p "$SD"
	"$SINK" --listen 127.0.0.1:0 --port-file "$SD/ports" \
		--summary "$SD/summary.json" --quiet "$@" \
		>"$SD/stdout" 2>"$SD/stderr" &
	SP=$!
	t_daemon "$SP"
	if ! wait_file "$SD/ports" 20; then
		cat "$SD/stderr"
		t_case "start ringsink $*"
		t_fail "ringsink did not start"
		t_finish
	fi
	PORT=$(head -1 "$SD/ports" | sed 's/.*://')
}

# stop_sink: SIGTERM; the summary is then complete.
stop_sink() {
	kill -TERM "$SP"
	wait "$SP"
}

# drv OUT ARGS...: run the driver against 127.0.0.1:$PORT into $SD/OUT.*
drv() {
	local out=$1
	shift
	"$DRV" --dst "127.0.0.1:$PORT" "$@" >"$SD/$out.json" 2>"$SD/$out.err"
	echo $? >"$SD/$out.rc"
}

# jcheck OUT EXPR: a Python expression over the driver's run OUT in $SD:
# R[addr] (the last result for a recipient), RS (all), C (session closes),
# S (summary), H (hold line), RC (exit status), K (the sink's summary, if
# written), M(sender) (bytes of the maildir message from that sender),
# ENV(sender) (its envelope), X(name) (the expected bytes of $MSG/name).
jcheck() {
	"$PY" - "$SD" "$1" "$2" "$MSG" <<'PY'
import glob, json, os, sys
sd, out, expr, msgd = sys.argv[1:5]
R, RS, C, S, H = {}, [], [], {}, {}
for line in open(os.path.join(sd, out + ".json")):
    o = json.loads(line)
    t = o.get("type")
    if t == "rcpt":
        R[o["rcpt"]] = o
        RS.append(o)
    elif t == "close":
        C.append(o)
    elif t == "summary":
        S = o
    elif t == "hold":
        H = o
RC = int(open(os.path.join(sd, out + ".rc")).read())
K = {}
if os.path.exists(os.path.join(sd, "summary.json")):
    K = json.load(open(os.path.join(sd, "summary.json")))
def ENV(sender):
    got = []
    for e in glob.glob(os.path.join(sd, "md", "env", "*")):
        j = json.load(open(e))
        if j["from"] == sender:
            j["name"] = os.path.basename(e)
            got.append(j)
    if len(got) != 1:
        raise SystemExit("%d maildir messages from %s" % (len(got), sender))
    return got[0]
def M(sender):
    return open(os.path.join(sd, "md", "new", ENV(sender)["name"]), "rb").read()
def X(name):
    return open(os.path.join(msgd, name + ".exp"), "rb").read()
def st(addr):
    r = R[addr]
    return (r["status"], r["code"], r["stage"], r["fail"])
ok = False
try:
    ok = eval("(" + expr + "\n)")
except Exception as e:
    print("check raised:", repr(e))
if not ok:
    print("check failed:", expr)
    print("exit status", RC)
    for o in RS + C:
        print(json.dumps(o))
    print(json.dumps(S))
    if K:
        print("sink:", json.dumps({k: K.get(k) for k in ("connections",
              "messages", "mail", "rcpt", "helo", "clients", "closes",
              "pipelining_violations", "tls_sessions", "replies")}))
sys.exit(0 if ok else 1)
PY
}

# ck DESCRIPTION OUT EXPR: one case.
ck() {
	t_check "$1" jcheck "$2" "$3"
}

D=$MSG # manifest paths are absolute
SNI=(--mx-host mx.test.example)

# ---- bytes: one connection, everything byte-exact ----------------------
start_sink bytes --maildir "$T_DIR/bytes/md"
manifest bytes "$D/dots dots@x.test r1@y.test" \
	"$D/long998 long@x.test r2@y.test" \
	"$D/eightbit eightbit@x.test r3@y.test" \
	"$D/nocrlf nocrlf@x.test r4@y.test" \
	"$D/nocrlfdot nocrlfdot@x.test r5@y.test" \
	"$D/empty empty@x.test r6@y.test" \
	"$D/big big@x.test r7@y.test" \
	"$D/small small@x.test r8@y.test r9@y.test"
drv bytes --ehlo bytes.test --manifest "$MSG/bytes.man"
manifest src "$D/small src@x.test r10@y.test"
drv src --ehlo src.test --src 127.0.0.2 --manifest "$MSG/src.man"
stop_sink
ck "ringsink: 8 messages delivered on one connection" bytes \
	'RC == 0 and S["messages"] == 8 and S["rcpt"]["delivered"] == 9 and
	 S["connections"] == 1 and C[0]["fail"] == "none" and
	 C[0]["deliveries"] == 8 and K["helo"]["bytes.test"]["connections"] == 1 and
	 K["helo"]["bytes.test"]["messages"] == 8 and K["messages_anomalous"] == 0'
ck "ringsink: dot lines (. .. .x ...) arrive byte-exact" bytes \
	'M("dots@x.test") == X("dots")'
ck "ringsink: 998-byte lines (one all dots) byte-exact" bytes \
	'M("long@x.test") == X("long998")'
ck "ringsink: 8-bit body byte-exact with 8BITMIME" bytes \
	'M("eightbit@x.test") == X("eightbit")'
ck "ringsink: no final CRLF: CRLF added, nothing else changed" bytes \
	'M("nocrlf@x.test") == X("nocrlf") and
	 M("nocrlf@x.test").endswith(b"ending\r\n") and
	 M("nocrlfdot@x.test") == X("nocrlfdot")'
ck "ringsink: empty body delivered as an empty message" bytes \
	'M("empty@x.test") == b"" and ENV("empty@x.test")["size"] == 0'
ck "ringsink: 50 MB message byte-exact" bytes \
	'M("big@x.test") == X("big") and
	 ENV("big@x.test")["size"] == len(X("big")) and
	 R["r7@y.test"]["status"] == "delivered"'
ck "ringsink: two recipients in one envelope" bytes \
	'ENV("small@x.test")["rcpts"] == ["r8@y.test", "r9@y.test"]'
ck "source address 127.0.0.2 bound (sink's per-client summary)" src \
	'RC == 0 and R["r10@y.test"]["status"] == "delivered" and
	 K["clients"]["127.0.0.2"]["messages"] == 1 and
	 K["clients"]["127.0.0.2"]["connections"] == 1 and
	 ENV("src@x.test")["client"] == "127.0.0.2"'

# ---- faults ---------------------------------------------------------------
start_sink faults \
	--reply 'banner/127.0.0.3=554:5.3.2 go away' \
	--reply 'banner/127.0.0.4=421:4.3.2 busy' \
	--delay 'banner/127.0.0.5=3s' \
	--reply 'ehlo/helo-only*=550:5.5.1 no EHLO here' \
	--reply 'ehlo/ehlo-4xx*=451:4.3.0 EHLO later' \
	--reply 'mail/m451*=451:4.3.1 mail later' \
	--reply 'mail/m550*=550:5.7.1 sender refused' \
	--reply 'data/d451*=451:4.3.2 data later' \
	--reply 'data/d554*=554:5.7.1 data refused' \
	--reply 'dot/x451*=451:4.3.3 dot later' \
	--reply 'dot/x552*=552:5.3.4 too big' \
	--drop 'data/ddrop*' --drop 'dot/xdrop*' --delay 'dot/xslow*=3s' \
	--rcpt 'bad*=550:5.1.1 no such user' --rcpt 'busy*=451:4.2.0 busy'
manifest txn "$D/small m451@x.test a1@y.test" \
	"$D/small m550@x.test a2@y.test a3@y.test" \
	"$D/small s1@x.test d451@y.test" \
	"$D/small s2@x.test d554@y.test" \
	"$D/small s3@x.test x451@y.test" \
	"$D/small s4@x.test x552@y.test" \
	"$D/small s5@x.test ok1@y.test bad1@y.test busy1@y.test t451@y.test t550@y.test" \
	"$D/small s6@x.test bad2@y.test bad3@y.test" \
	"$D/small s7@x.test ok2@y.test"
drv txn --ehlo txn.test --manifest "$MSG/txn.man"
ck "MAIL 451/550: every recipient takes the MAIL reply" txn \
	'RC == 0 and st("a1@y.test") == ("temporary", 451, "mail", "reply") and
	 st("a2@y.test") == ("permanent", 550, "mail", "reply") and
	 st("a3@y.test") == ("permanent", 550, "mail", "reply") and
	 R["a2@y.test"]["enhanced"] == "5.7.1"'
ck "DATA 451/554 and dot 451/552 per message" txn \
	'st("d451@y.test") == ("temporary", 451, "data", "reply") and
	 st("d554@y.test") == ("permanent", 554, "data", "reply") and
	 st("x451@y.test") == ("temporary", 451, "dot", "reply") and
	 st("x552@y.test") == ("permanent", 552, "dot", "reply") and
	 not R["x451@y.test"]["maybe_dup"]'
ck "per-recipient 250/550/451 mix in one transaction" txn \
	'st("ok1@y.test") == ("delivered", 250, "dot", "none") and
	 st("bad1@y.test") == ("permanent", 550, "rcpt", "reply") and
	 st("busy1@y.test") == ("temporary", 451, "rcpt", "reply") and
	 st("t451@y.test") == ("temporary", 451, "rcpt", "reply") and
	 st("t550@y.test") == ("permanent", 550, "rcpt", "reply") and
	 R["bad1@y.test"]["text"] == "5.1.1 no such user"'
ck "all recipients refused: permanent, nothing accepted" txn \
	'st("bad2@y.test") == ("permanent", 550, "rcpt", "reply") and
	 st("bad3@y.test") == ("permanent", 550, "rcpt", "reply")'
ck "after 7 failed transactions the connection still delivers" txn \
	'st("ok2@y.test") == ("delivered", 250, "dot", "none") and
	 S["connections"] == 1 and C[0]["fail"] == "none" and
	 len(RS) == 15 and S["rcpt"]["pending"] == 0'
manifest r421 "$D/small s8@x.test ok3@y.test t421@y.test ok4@y.test" \
	"$D/small s9@x.test ok5@y.test"
drv r421 --ehlo r421.test --manifest "$MSG/r421.man"
ck "421 mid-transaction: all temporary with the 421; next on a new connection" r421 \
	'RC == 0 and all(st(a)[:2] == ("temporary", 421) for a in
	  ("ok3@y.test", "t421@y.test", "ok4@y.test")) and
	 C[0]["code"] == 421 and C[0]["fail"] == "reply" and
	 st("ok5@y.test")[0] == "delivered" and R["ok5@y.test"]["conn"] == 1 and
	 S["connections"] == 2'
manifest ddrop "$D/small s10@x.test ddrop@y.test" "$D/small s11@x.test ok6@y.test"
drv ddrop --ehlo ddrop.test --manifest "$MSG/ddrop.man"
ck "connection dropped at DATA: temporary reset, no possible duplicate" ddrop \
	'RC == 0 and st("ddrop@y.test") == ("temporary", 0, "data", "reset") and
	 not R["ddrop@y.test"]["maybe_dup"] and C[0]["fail"] == "reset" and
	 st("ok6@y.test")[0] == "delivered"'
manifest xdrop "$D/small s12@x.test xdrop@y.test"
drv xdrop --ehlo xdrop.test --manifest "$MSG/xdrop.man"
ck "connection dropped after the dot: temporary, maybe_dup" xdrop \
	'RC == 0 and st("xdrop@y.test") == ("temporary", 0, "dot", "reset") and
	 R["xdrop@y.test"]["maybe_dup"]'
manifest xslow "$D/small s13@x.test xslow@y.test"
drv xslow --ehlo xslow.test --timeout dot=500 --manifest "$MSG/xslow.man"
ck "dot reply delayed past a 500 ms deadline: timeout, maybe_dup" xslow \
	'RC == 0 and st("xslow@y.test") == ("temporary", 0, "dot", "timeout") and
	 R["xslow@y.test"]["maybe_dup"] and 0.4 < S["seconds"] < 2.5'
manifest one "$D/small s14@x.test one@y.test"
drv b554 --src 127.0.0.3 --manifest "$MSG/one.man"
ck "554 banner: session ends, message not attempted" b554 \
	'RC == 0 and C[0]["code"] == 554 and C[0]["stage"] == "banner" and
	 C[0]["fail"] == "reply" and R["one@y.test"]["status"] == "pending" and
	 S["unattempted"] == 1 and S["connections"] == 1'
drv b421 --src 127.0.0.4 --manifest "$MSG/one.man"
ck "421 banner: session ends, message not attempted" b421 \
	'RC == 0 and C[0]["code"] == 421 and C[0]["stage"] == "banner" and
	 C[0]["status"] == "temporary" and R["one@y.test"]["status"] == "pending"'
drv bslow --src 127.0.0.5 --timeout banner=300 --manifest "$MSG/one.man"
ck "banner slower than its 300 ms deadline: timeout" bslow \
	'RC == 0 and C[0]["fail"] == "timeout" and C[0]["stage"] == "banner" and
	 S["seconds"] < 2'
drv helo --ehlo helo-only.test --manifest "$MSG/one.man"
ck "5xx to EHLO: HELO fallback delivers" helo \
	'RC == 0 and R["one@y.test"]["status"] == "delivered" and
	 C[0]["fail"] == "none"'
drv ehlo4 --ehlo ehlo-4xx.test --manifest "$MSG/one.man"
ck "4xx to EHLO: QUIT, nothing attempted" ehlo4 \
	'RC == 0 and C[0]["code"] == 451 and C[0]["stage"] == "ehlo" and
	 R["one@y.test"]["status"] == "pending"'
stop_sink
ck "faults: the sink saw exactly the expected transactions" ehlo4 \
	'K["helo"]["txn.test"]["connections"] == 1 and
	 K["helo"]["txn.test"]["messages"] == 2 and
	 K["helo"]["r421.test"]["connections"] == 2 and
	 K["helo"]["helo-only.test"]["messages"] == 1 and
	 K["pipelining_violations"] == 0 and K["early_talkers"] == 0'
CLOSED=$(free_port 127.0.0.1)
SAVED=$PORT
PORT=$CLOSED
drv refused --manifest "$MSG/one.man"
PORT=$SAVED
ck "nothing listening: refused, not attempted" refused \
	'RC == 0 and C[0]["fail"] == "refused" and S["connections"] == 1 and
	 R["one@y.test"]["status"] == "pending"'

# ---- scripted retries -------------------------------------------------------
printf '%s\n' 'sequence rcpt/retry* per rcpt = 451:4.3.0 try again; pass' \
	'sequence dot per msg = 451:4.3.0 later; pass' >"$T_DIR/retry.rules"
start_sink retry --script "$T_DIR/retry.rules"
manifest retry "$D/small s15@x.test retry1@y.test plain@y.test"
drv retry1 --manifest "$MSG/retry.man"
drv retry2 --manifest "$MSG/retry.man"
stop_sink
ck "script: first attempt 451 at RCPT and at the dot" retry1 \
	'RC == 0 and st("retry1@y.test") == ("temporary", 451, "rcpt", "reply") and
	 st("plain@y.test") == ("temporary", 451, "dot", "reply")'
ck "script: the second attempt is delivered" retry2 \
	'RC == 0 and st("retry1@y.test")[0] == "delivered" and
	 st("plain@y.test")[0] == "delivered" and K["messages"] == 1'

# ---- reuse, limits, parallel, pipelining --------------------------------
start_sink reuse
manifest m1 "$D/small s16@x.test r@y.test"
manifest m2 "$D/small s17@x.test r@y.test r2@y.test"
drv reuse --ehlo reuse.test --manifest "$MSG/m1.man" --repeat 20 --rtt
ck "reuse: 20 messages, one connection, one round trip each" reuse \
	'RC == 0 and S["msgs_delivered"] == 20 and S["connections"] == 1 and
	 C[0]["deliveries"] == 20 and S["round_trips_per_msg"] == 1.0'
drv maxd --ehlo maxd.test --manifest "$MSG/m1.man" --repeat 6 \
	--max-deliveries 2
ck "max deliveries 2: 6 messages over 3 clean connections" maxd \
	'RC == 0 and S["msgs_delivered"] == 6 and S["connections"] == 3 and
	 all(c["deliveries"] == 2 and c["fail"] == "none" and c["code"] == 221
	     for c in C)'
drv par --ehlo par.test --manifest "$MSG/m2.man" --repeat 40 \
	--connections 5
drv nopipe --ehlo nopipe.test --manifest "$MSG/m2.man" --repeat 5 \
	--no-pipelining --rtt
stop_sink
ck "reuse: sink counts 1 connection and 20 messages" reuse \
	'K["helo"]["reuse.test"]["connections"] == 1 and
	 K["helo"]["reuse.test"]["messages"] == 20'
ck "5 parallel connections deliver 40 messages" par \
	'RC == 0 and S["msgs_delivered"] == 40 and S["rcpt"]["delivered"] == 80 and
	 S["connections"] <= 5 and K["helo"]["par.test"]["messages"] == 40 and
	 K["helo"]["par.test"]["max_concurrent"] <= 5'
ck "client without PIPELINING: one command per round trip" nopipe \
	'RC == 0 and S["msgs_delivered"] == 5 and S["connections"] == 1 and
	 S["round_trips_per_msg"] >= 5'

start_sink nopipesink --no-pipelining
drv np --ehlo np.test --manifest "$MSG/m2.man" --repeat 5 --rtt
stop_sink
ck "server without PIPELINING: lockstep, no synchronization error" np \
	'RC == 0 and S["msgs_delivered"] == 5 and S["connections"] == 1 and
	 K["pipelining_violations"] == 0 and K["messages"] == 5 and
	 S["round_trips_per_msg"] >= 5'

# ---- capability refusals ------------------------------------------------
UADDR=$(printf 'r\303\251sum\303\251@y.test') # UTF-8, no +utf8 flag
start_sink no8 --no-8bitmime --no-smtputf8
manifest no8 "$D/eightbit e8@x.test r8bit@y.test" "$D/small s18@x.test r7bit@y.test" \
	"$D/small s18@x.test $UADDR"
drv no8 --manifest "$MSG/no8.man"
stop_sink
ck "8-bit body to a server without 8BITMIME: 5.6.3, not sent" no8 \
	'RC == 0 and st("r8bit@y.test") == ("permanent", 0, "local", "capability") and
	 R["r8bit@y.test"]["enhanced"] == "5.6.3" and
	 st("r7bit@y.test")[0] == "delivered" and K["mail"] == 1'
ck "UTF-8 address to a server without SMTPUTF8: 5.6.7, not sent" no8 \
	'st("r\u00e9sum\u00e9@y.test") == ("permanent", 0, "local", "capability") and
	 R["r\u00e9sum\u00e9@y.test"]["enhanced"] == "5.6.7"'
start_sink size --size 10000
manifest size "$D/k20 big20@x.test rbig@y.test" "$D/small s19@x.test rsmall@y.test"
drv size --manifest "$MSG/size.man"
stop_sink
ck "message over the server's SIZE: 5.3.4, not sent" size \
	'RC == 0 and st("rbig@y.test") == ("permanent", 0, "local", "capability") and
	 R["rbig@y.test"]["enhanced"] == "5.3.4" and
	 st("rsmall@y.test")[0] == "delivered" and K["mail"] == 1'

# ---- STARTTLS -------------------------------------------------------------
TLSARGS=(--tls-cert "$CERTS/mx-chain.crt" --tls-key "$CERTS/mx.key")
start_sink tls "${TLSARGS[@]}" --maildir "$T_DIR/tls/md" \
	--reply 'starttls/127.0.0.6=454:4.7.0 TLS not available'
manifest tdots "$D/dots tdots@x.test t1@y.test"
drv opp --ehlo opp.test --tls opportunistic --manifest "$MSG/tdots.man"
ck "STARTTLS opportunistic: TLSv1.3, unverified, byte-exact" opp \
	'RC == 0 and R["t1@y.test"]["status"] == "delivered" and
	 R["t1@y.test"]["tls"]["state"] == "on" and
	 R["t1@y.test"]["tls"]["protocol"] == "TLSv1.3" and
	 not R["t1@y.test"]["tls"]["verified"] and
	 M("tdots@x.test") == X("dots") and
	 ENV("tdots@x.test")["tls"]["protocol"] == "TLSv1.3"'
manifest t2 "$D/small t2@x.test t2@y.test"
drv req --ehlo req.test --tls required --tls-verify ca \
	--tls-ca "$CERTS/ca.crt" "${SNI[@]}" --manifest "$MSG/t2.man"
ck "STARTTLS required, verify=ca with the fixture CA: verified" req \
	'RC == 0 and R["t2@y.test"]["status"] == "delivered" and
	 R["t2@y.test"]["tls"]["verified"] and C[0]["fail"] == "none"'
manifest t3 "$D/small t3@x.test t3@y.test"
drv host --ehlo host.test --tls required --tls-verify host \
	--tls-ca "$CERTS/ca.crt" "${SNI[@]}" --manifest "$MSG/t3.man"
ck "verify=host with the right name: verified" host \
	'RC == 0 and R["t3@y.test"]["status"] == "delivered" and
	 R["t3@y.test"]["tls"]["verified"]'
manifest t4 "$D/small t4@x.test t4@y.test"
drv mism --ehlo mism.test --tls required --tls-verify host \
	--tls-ca "$CERTS/ca.crt" --mx-host wrong.test.example \
	--manifest "$MSG/t4.man"
ck "verify=host name mismatch: TLS failure, nothing sent" mism \
	'RC == 0 and C[0]["fail"] == "tls" and C[0]["stage"] == "starttls" and
	 C[0]["tls"]["state"] == "failed" and
	 "mismatch" in (C[0]["tls"]["error"] or "") and
	 R["t4@y.test"]["status"] == "pending"'
manifest t5 "$D/small t5@x.test t5@y.test"
drv res --ehlo res.test --tls required --tls-verify ca \
	--tls-ca "$CERTS/ca.crt" "${SNI[@]}" --tls-resume --max-deliveries 1 \
	--manifest "$MSG/t5.man" --repeat 3
ck "resumption: sessions 2 and 3 resume the first (TLSv1.3)" res \
	'RC == 0 and S["msgs_delivered"] == 3 and S["connections"] == 3 and
	 S["tls"]["on"] == 3 and S["tls"]["resumed"] == 2 and
	 S["tls"]["verified"] == 3'
drv res12 --ehlo res12.test --tls required --tls-verify ca \
	--tls-ca "$CERTS/ca.crt" "${SNI[@]}" --tls-resume --max-deliveries 1 \
	--tls-max-version 1.2 --manifest "$MSG/t5.man" --repeat 2
ck "TLSv1.2 with resumption" res12 \
	'RC == 0 and S["msgs_delivered"] == 2 and S["tls"]["resumed"] == 1 and
	 all(r["tls"]["protocol"] == "TLSv1.2" for r in RS)'
manifest t6 "$D/small t6@x.test t6@y.test"
drv tpipe --ehlo tpipe.test --tls required --manifest "$MSG/t6.man" \
	--repeat 10 --rtt
ck "TLS: 10 pipelined messages, one round trip each" tpipe \
	'RC == 0 and S["msgs_delivered"] == 10 and S["connections"] == 1 and
	 S["round_trips_per_msg"] == 1.0'
manifest t7 "$D/small t7@x.test t7@y.test"
drv r454o --src 127.0.0.6 --tls opportunistic --manifest "$MSG/t7.man"
ck "454 to STARTTLS, opportunistic: plaintext delivery" r454o \
	'RC == 0 and R["t7@y.test"]["status"] == "delivered" and
	 R["t7@y.test"]["tls"]["state"] == "refused" and
	 ENV("t7@x.test")["tls"] is None'
manifest t8 "$D/small t8@x.test t8@y.test"
drv r454r --src 127.0.0.6 --tls required --manifest "$MSG/t8.man"
stop_sink
ck "454 to STARTTLS, required: nothing sent" r454r \
	'RC == 0 and C[0]["fail"] == "reply" and C[0]["code"] == 454 and
	 C[0]["stage"] == "starttls" and R["t8@y.test"]["status"] == "pending"'
ck "TLS sink: messages and handshakes as expected" r454r \
	'K["tls_messages"] == 1 + 1 + 1 + 3 + 2 + 10 and
	 K["messages"] == K["tls_messages"] + 1 and
	 K["tls_protocols"]["TLSv1.2"] == 2'

start_sink inject "${TLSARGS[@]}" --tls-fault inject
manifest t9 "$D/small t9@x.test t9@y.test"
drv inj --tls opportunistic --manifest "$MSG/t9.man"
stop_sink
ck "STARTTLS injection (220 + plaintext in one write): aborted" inj \
	'RC == 0 and C[0]["fail"] == "tls" and C[0]["tls"]["state"] == "injected" and
	 C[0]["err"] == -74 and R["t9@y.test"]["status"] == "pending" and
	 K["tls_sessions"] == 0 and K["mail"] == 0'

start_sink notls
manifest t10 "$D/small t10@x.test t10@y.test"
drv noreq --tls required --manifest "$MSG/t10.man"
drv noopp --tls opportunistic --manifest "$MSG/t10.man"
stop_sink
ck "TLS required, STARTTLS not offered: nothing sent" noreq \
	'RC == 0 and C[0]["fail"] == "tls" and C[0]["err"] == -95 and
	 C[0]["tls"]["state"] == "not_offered" and
	 R["t10@y.test"]["status"] == "pending"'
ck "opportunistic, STARTTLS not offered: plaintext delivery" noopp \
	'RC == 0 and R["t10@y.test"]["status"] == "delivered" and
	 R["t10@y.test"]["tls"]["state"] == "not_offered" and K["mail"] == 1'

# ---- aiosmtpd -------------------------------------------------------------
SD=$T_DIR/aio
mkdir -p "$SD/out"
cat >"$SD/aio.py" <<'PY'
# A Controller whose handle_DATA keeps each message's bytes (after
# dot-unstuffing, as received) and its envelope; "bad*" recipients get 550.
import json, os, signal, sys, threading
from aiosmtpd.controller import Controller
out, port = sys.argv[1], int(sys.argv[2])
n = [0]
class H:
    async def handle_RCPT(self, server, session, envelope, address, opts):
        if address.startswith("bad"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"
    async def handle_DATA(self, server, session, envelope):
        n[0] += 1
        p = os.path.join(out, "%d" % n[0])
        open(p + ".eml", "wb").write(envelope.original_content)
        json.dump({"from": envelope.mail_from, "rcpts": envelope.rcpt_tos,
                   "opts": envelope.mail_options}, open(p + ".env", "w"))
        return "250 OK kept %d" % n[0]
c = Controller(H(), hostname="127.0.0.1", port=port, decode_data=False)
c.start()
open(os.path.join(out, "..", "ports.tmp"), "w").write("127.0.0.1:%d\n" % port)
os.rename(os.path.join(out, "..", "ports.tmp"), os.path.join(out, "..", "ports"))
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: done.set())
done.wait()
c.stop()
PY
t_case "aiosmtpd: byte-exact delivery without PIPELINING"
if ! "$PY" -c 'import aiosmtpd' 2>/dev/null; then
	t_fail "python3-aiosmtpd is not installed (make deps installs it)"
else
	PORT=$(free_port 127.0.0.1)
	"$PY" "$SD/aio.py" "$SD/out" "$PORT" >"$SD/stdout" 2>"$SD/stderr" &
	AP=$!
	t_daemon "$AP"
	if ! wait_file "$SD/ports" 20; then
		cat "$SD/stderr"
		t_fail "aiosmtpd did not start"
	else
		manifest aio "$D/dots dots@x.test a1@y.test" \
			"$D/long998 long@x.test a2@y.test" \
			"$D/eightbit eightbit@x.test a3@y.test" \
			"$D/nocrlf nocrlf@x.test a4@y.test" \
			"$D/mb1 mb1@x.test a5@y.test bad@y.test a6@y.test" \
			"$D/empty empty@x.test a7@y.test" \
			"$D/big big@x.test a8@y.test" \
			"+utf8 $D/small utf8@x.test a9@y.test"
		drv aio --ehlo aio.test --manifest "$MSG/aio.man"
		t_stop "$AP"
		if jcheck aio '
		 RC == 0 and S["connections"] == 1 and
		 all(st(a)[:3] == ("delivered", 250, "dot") for a in
		     ("a1@y.test", "a2@y.test", "a3@y.test", "a4@y.test",
		      "a5@y.test", "a6@y.test", "a7@y.test")) and
		 st("bad@y.test") == ("permanent", 550, "rcpt", "reply")'; then
			t_ok
		else
			t_fail "aiosmtpd outcomes"
		fi
	fi
fi
t_check "aiosmtpd: stored bytes and MAIL parameters as expected" "$PY" - \
	"$SD/out" "$MSG" <<'PY'
import json, os, sys
out, msg = sys.argv[1], sys.argv[2]
want = {"dots@x.test": "dots", "long@x.test": "long998",
        "eightbit@x.test": "eightbit", "nocrlf@x.test": "nocrlf",
        "mb1@x.test": "mb1", "empty@x.test": "empty", "utf8@x.test": "small"}
got = {}
for f in sorted(os.listdir(out)) if os.path.isdir(out) else []:
    if f.endswith(".env"):
        e = json.load(open(os.path.join(out, f)))
        got[e["from"]] = (open(os.path.join(out, f[:-4] + ".eml"), "rb").read(),
                          e)
ok = sorted(got) == sorted(want)
if not ok:
    print("senders received:", sorted(got))
for frm, name in want.items():
    if frm in got and got[frm][0] != open(os.path.join(msg, name + ".exp"),
                                          "rb").read():
        print("bytes differ:", frm)
        ok = False
def opts(frm):
    return [o for o in got[frm][1]["opts"] if not o.startswith("SIZE=")]
if ok and (opts("eightbit@x.test") != ["BODY=8BITMIME"] or
           opts("utf8@x.test") != ["SMTPUTF8"] or opts("dots@x.test") != []):
    print("MAIL parameters:", {f: g[1]["opts"] for f, g in got.items()})
    ok = False
if ok and got["mb1@x.test"][1]["rcpts"] != ["a5@y.test", "a6@y.test"]:
    print("rcpts", got["mb1@x.test"][1]["rcpts"])
    ok = False
sys.exit(0 if ok else 1)
PY
ck "aiosmtpd: 50 MB over its advertised SIZE: 5.3.4, not sent" aio \
	'st("a8@y.test") == ("permanent", 0, "local", "capability") and
	 R["a8@y.test"]["enhanced"] == "5.3.4" and
	 st("a9@y.test")[0] == "delivered"'

# ---- Postfix smtpd ----------------------------------------------------------
SD=$T_DIR/postfix
PORT=$(free_port 127.0.0.1)
mkdir -p "$SD"
t_case "Postfix: private smtpd instance starts"
if t_postfix_start "$SD/pf" "$PORT" "$CERTS" "" relay_domains=relay.test \
	"smtpd_relay_restrictions=permit_auth_destination, reject" \
	message_size_limit=104857600; then
	t_ok
else
	t_fail "the private Postfix did not start (see above)"
fi
t_case "Postfix: plaintext and STARTTLS deliveries are in its queue"
if [ -z "$T_PF_CONF" ]; then
	t_fail "no Postfix instance"
else
	manifest pf1 "$D/dots pf1@x.test p1@relay.test p2@relay.test" \
		"$D/eightbit pf2@x.test p3@relay.test" \
		"$D/small pf3@x.test p4@other.test"
	drv pf1 --ehlo client.test --manifest "$MSG/pf1.man"
	manifest pf2 "$D/dots pf4@x.test p5@relay.test"
	drv pf2 --ehlo client.test --tls required --tls-verify host \
		--tls-ca "$CERTS/ca.crt" "${SNI[@]}" --manifest "$MSG/pf2.man"
	/usr/sbin/postqueue -c "$T_PF_CONF" -j >"$SD/queue.json" 2>"$SD/queue.err"
	for id in $("$PY" -c 'import json,sys
for l in open(sys.argv[1]): print(json.loads(l)["queue_id"])' "$SD/queue.json"); do
		/usr/sbin/postcat -c "$T_PF_CONF" -bq "$id" >"$SD/$id.body" 2>&1
		/usr/sbin/postcat -c "$T_PF_CONF" -hq "$id" >"$SD/$id.hdr" 2>&1
	done
	if "$PY" - "$SD" "$MSG" <<'PY'; then
import json, os, sys
sd, msg = sys.argv[1], sys.argv[2]
R = {}
for out in ("pf1", "pf2"):
    for l in open(os.path.join(sd, out + ".json")):
        o = json.loads(l)
        if o["type"] == "rcpt":
            R[o["rcpt"]] = o
q = {}
for l in open(os.path.join(sd, "queue.json")):
    j = json.loads(l)
    q[j["sender"]] = j
def body(sender):
    # postcat -b: the body as Postfix stored it, LF line ends
    return open(os.path.join(sd, q[sender]["queue_id"] + ".body"), "rb").read()
def hdr(sender):
    return open(os.path.join(sd, q[sender]["queue_id"] + ".hdr"), "rb").read()
def same_body(sender, name):
    # what follows the message's first empty line (Postfix keeps the
    # header block apart and adds its own) must end Postfix's body
    b = open(os.path.join(msg, name + ".exp"), "rb").read()
    want = b.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n").rstrip(b"\n")
    return len(want) > 20 and body(sender).rstrip(b"\n").endswith(want)
checks = [
    ("delivered", all(R[a]["status"] == "delivered" and R[a]["code"] == 250
                      for a in ("p1@relay.test", "p2@relay.test",
                                "p3@relay.test", "p5@relay.test"))),
    ("relay refused", R["p4@other.test"]["status"] == "permanent"
     and R["p4@other.test"]["code"] == 554),
    ("tls", R["p5@relay.test"].get("tls", {}).get("state") == "on"
     and R["p5@relay.test"]["tls"]["verified"]),
    ("queue", sorted(q) == ["pf1@x.test", "pf2@x.test", "pf4@x.test"]),
    ("held", all(j["queue_name"] == "hold" for j in q.values())),
    ("rcpts", sorted(r["address"] for r in q["pf1@x.test"]["recipients"])
     == ["p1@relay.test", "p2@relay.test"]),
    ("dots body", same_body("pf1@x.test", "dots")),
    ("8bit body", same_body("pf2@x.test", "eightbit")),
    ("tls body", same_body("pf4@x.test", "dots")),
    ("received tls", b"using TLSv1." in hdr("pf4@x.test")
     and b"using TLS" not in hdr("pf1@x.test")),
]
bad = [n for n, ok in checks if not ok]
if bad:
    print("failed:", bad)
    print(json.dumps(R, indent=1)[:3000])
    print(open(os.path.join(sd, "queue.json")).read()[:2000])
sys.exit(1 if bad else 0)
PY
		t_ok
	else
		t_fail "Postfix checks"
	fi
fi
t_postfix_stop

t_check "driver and sinks ran clean under ASan (no reports)" \
	bash -c "! grep -l 'Sanitizer\|runtime error' '$T_DIR'/*/*.err '$T_DIR'/*/stderr"

t_finish
