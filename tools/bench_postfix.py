#!/usr/bin/python3
"""A private Postfix instance for benchmarks (tools/bench.py).

Owns: writing a main.cf and master.cf under a scratch directory, starting
that instance with `postfix -c CONFDIR start`, finding its processes (the
master's pid file, then its descendants in /proc: never by name), counting
its queue files, and stopping it with `postfix -c CONFDIR stop`.
Must not: touch /etc/postfix or the system instance, listen anywhere but
127.0.0.1, or kill anything that is not a descendant of its own master.

Postfix 3.7 (Debian package, installed for its tools) runs as root here; the
daemons drop to the package's `postfix` user and `postdrop` group.  No
daemon is chrooted (no copies of /etc files needed).  Logging goes to
syslog, and with no /dev/log on the benchmark machine it goes nowhere, so
Postfix pays no logging cost; `log=True` writes $tmp/maillog instead
(postlogd), for debugging.

Parking outbound mail (`park="hold"`, the default): `smtpd_data_restrictions
= check_client_access static:HOLD`.  smtpd still hands every message to
cleanup, which writes the queue file under incoming/, fsync()s it and only
then lets smtpd answer 250; the HOLD flag then makes cleanup rename the file
into hold/ instead of leaving it for qmgr.  So the per-message write + fsync
path of intake is unchanged, and nothing else (qmgr scheduling, delivery
attempts, defer logs with their own fsyncs) adds work.  `park="defer"` uses
`defer_transports = smtp` instead: messages go through qmgr into deferred/,
with a defer log each (more work per message than intake alone).
`park=None` leaves delivery on (for relaying workloads: pass `relayhost`
and friends in `main_extra`).

master.cf also lists tlsmgr (the TLS session cache) and tlsproxy (TLS
connection reuse), as Debian's does; they run only when main.cf turns
outbound TLS on (W3: `smtp_tls_security_level = encrypt`,
`smtp_tls_session_cache_database`, `smtp_tls_connection_reuse = yes`).

Usage:
    with PrivatePostfix(tmpdir, port) as pf:
        ... smtp-source to 127.0.0.1:port ...
        pf.cpu_ticks(), pf.pids(), pf.queue_count("hold")
"""
import os
import shutil
import signal
import subprocess
import time

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
POSTQUEUE = "/usr/sbin/postqueue"
QUEUES = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt")

# service type private unpriv chroot wakeup maxproc command
MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
tlsproxy  unix  -       -       n       -       0       tlsproxy
"""


def main_cf(tmp, park, process_limit, log, extra):
    """The main.cf settings, in order, as (name, value) pairs."""
    cf = [
        ("compatibility_level", "3.6"),
        ("queue_directory", os.path.join(tmp, "queue")),
        ("data_directory", os.path.join(tmp, "data")),
        ("mail_owner", "postfix"),
        ("setgid_group", "postdrop"),
        ("myhostname", "bench.test"),
        ("mydomain", "bench.test"),
        ("myorigin", "bench.test"),
        ("mydestination", ""),
        ("relay_domains", ""),
        ("mynetworks", "127.0.0.0/8"),
        ("inet_interfaces", "127.0.0.1"),
        ("inet_protocols", "ipv4"),
        ("local_recipient_maps", ""),
        ("alias_maps", ""),
        ("alias_database", ""),
        ("local_transport", "error:no local delivery"),
        ("biff", "no"),
        ("default_process_limit", str(process_limit)),
        # intake as fast as smtpd can: no per-client limits, no reverse
        # DNS (ringmta does none), no arrival-rate pause (in_flow_delay
        # waits for qmgr tokens that a held queue never produces)
        ("smtpd_client_connection_rate_limit", "0"),
        ("smtpd_client_connection_count_limit", "0"),
        ("smtpd_client_message_rate_limit", "0"),
        ("smtpd_peername_lookup", "no"),
        ("in_flow_delay", "0"),
        ("smtpd_relay_restrictions", "permit_mynetworks, reject"),
        ("smtpd_recipient_restrictions", ""),
    ]
    if park == "hold":
        cf.append(("smtpd_data_restrictions",
                   "check_client_access static:HOLD"))
    elif park == "defer":
        cf.append(("defer_transports", "smtp"))
    elif park is not None:
        raise ValueError(f"park must be 'hold', 'defer' or None: {park!r}")
    if log:
        cf.append(("maillog_file_prefixes", tmp))
        cf.append(("maillog_file", os.path.join(tmp, "maillog")))
    cf.extend((extra or {}).items())
    return cf


def _ppid_map():
    """{pid: ppid} for every process in /proc."""
    m = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                m[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return m


def descendants(root):
    """root and every descendant of it (from /proc parent links)."""
    ppid = _ppid_map()
    out, todo = [root], [root]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in ppid.items() if pp == p]
        out.extend(kids)
        todo.extend(kids)
    return out


def _ticks(pid):
    """utime + stime + cutime + cstime of pid, 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15])
    except (OSError, IndexError, ValueError):
        return 0


class PrivatePostfix:
    """A Postfix instance under TMP/ (conf/, queue/, data/) on 127.0.0.1:PORT.

    tmp must be a fresh directory; start() makes it world-searchable (0755)
    so the unprivileged daemons can reach the queue and data directories.
    """

    def __init__(self, tmp, port, park="hold", process_limit=150, log=False,
                 main_extra=None):
        self.tmp = tmp
        self.port = port
        self.conf = os.path.join(tmp, "conf")
        self.queue = os.path.join(tmp, "queue")
        self.log = log
        self.cf = main_cf(tmp, park, process_limit, log, main_extra)
        self.running = False

    # -- commands -------------------------------------------------------
    def _run(self, *args, check=True, timeout=60):
        r = subprocess.run(list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            why = r.stdout.strip() or _tty_output(args, timeout)
            raise RuntimeError(f"{' '.join(args)}: exit {r.returncode}: "
                               f"{why[-500:]}")
        return r

    def postfix(self, *args, check=True):
        return self._run(POSTFIX, "-c", self.conf, *args, check=check)

    def version(self):
        """mail_version of the binaries this instance runs."""
        r = self._run(POSTCONF, "-c", self.conf, "-d", "-h", "mail_version")
        return r.stdout.strip()

    def effective(self, name):
        """The value the instance uses for a main.cf parameter."""
        r = self._run(POSTCONF, "-c", self.conf, "-h", name)
        return r.stdout.strip()

    # -- life cycle -----------------------------------------------------
    def write_config(self):
        os.chmod(self.tmp, 0o755)
        for d in (self.conf, self.queue, os.path.join(self.tmp, "data")):
            os.makedirs(d, exist_ok=True)
        import pwd
        pw = pwd.getpwnam("postfix")
        os.chown(os.path.join(self.tmp, "data"), pw.pw_uid, pw.pw_gid)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in self.cf:
                f.write(f"{k} = {v}\n")
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(listen=f"127.0.0.1:{self.port}"))
        # postfix-script wants dynamicmaps.cf next to main.cf when it
        # checks the instance; copy (read only) the package's one
        src = "/etc/postfix/dynamicmaps.cf"
        if os.path.exists(src):
            shutil.copy(src, os.path.join(self.conf, "dynamicmaps.cf"))
        for name in os.listdir(self.conf):
            os.chmod(os.path.join(self.conf, name), 0o644)
        os.chmod(self.conf, 0o755)

    def start(self, wait=15):
        """Writes the config, starts the instance, waits for the listener.

        Raises RuntimeError (after stopping whatever started) on failure.
        """
        _check_searchable(os.path.dirname(os.path.abspath(self.tmp)))
        self.write_config()
        self.postfix("check")
        self.running = True
        try:
            r = self.postfix("start", check=False)
            if r.returncode != 0:
                hint = ("" if self.log else "; run with log=True and read "
                        f"{self.tmp}/maillog")
                raise RuntimeError(f"postfix start failed: "
                                   f"{r.stdout.strip()[-300:]}{hint}")
            end = time.time() + wait
            while time.time() < end:
                if self.postfix("status", check=False).returncode == 0 \
                        and self._listening():
                    return self
                time.sleep(0.1)
            raise RuntimeError(f"private postfix on port {self.port} did "
                               "not come up")
        except BaseException:
            self.stop()
            raise

    def _listening(self):
        import socket
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.5).close()
            return True
        except OSError:
            return False

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def pids(self):
        """The master and every live descendant of it (from /proc)."""
        master = self.master_pid()
        if master is None or _zombie(master) is not False:
            return []
        return [p for p in descendants(master) if _zombie(p) is False]

    def cpu_ticks(self):
        """CPU ticks of the instance so far: live processes plus the
        children the master has reaped (its cutime/cstime).  Differences
        of two calls are the instance's CPU in between."""
        return sum(_ticks(p) for p in self.pids())

    def queue_count(self, *queues):
        """Queue files under the given queues (all of QUEUES if none)."""
        n = 0
        for q in queues or QUEUES:
            for _, _, files in os.walk(os.path.join(self.queue, q)):
                n += len(files)
        return n

    def postqueue_count(self):
        """Messages `postqueue -p` lists (slow for big queues)."""
        r = self._run(POSTQUEUE, "-c", self.conf, "-p", timeout=300)
        return sum(1 for line in r.stdout.splitlines()
                   if line[:1].isalnum() and not line.startswith("-"))

    def stop(self, wait=20):
        """`postfix -c CONFDIR stop`, then wait for the master to exit.
        If the instance is still there after `wait` seconds, SIGKILL the
        processes that were its master and descendants (each checked by
        pid and start time, so a reused pid is never hit)."""
        if not self.running:
            return
        self.running = False
        procs = [(p, _starttime(p)) for p in self.pids()]
        self.postfix("stop", check=False)
        end = time.time() + wait
        while time.time() < end:
            if not any(_zombie(p) is False for p, _ in procs):
                return
            time.sleep(0.1)
        for p, st in procs:
            if st is not None and _starttime(p) == st:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def _tty_output(args, timeout):
    """Runs args again with stderr on a pseudo-terminal and returns what
    it wrote: Postfix commands log only to syslog (absent here) unless
    stderr is a terminal.  Only for commands that leave no daemon behind."""
    import pty
    import select
    m, s = pty.openpty()
    try:
        p = subprocess.Popen(list(args), stdin=subprocess.DEVNULL, stdout=s,
                             stderr=s)
    finally:
        os.close(s)
    out = b""
    end = time.time() + timeout
    try:
        while time.time() < end:
            if not select.select([m], [], [], 1)[0]:
                if p.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(m, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(m)
        if p.poll() is None:
            p.kill()
        p.wait()
    return out.decode(errors="replace").strip()


def _check_searchable(path):
    """Raises RuntimeError unless every directory from / to path lets
    others search it: the daemons run as the postfix user and reach the
    data directory by its absolute name."""
    import stat
    p = path
    while True:
        st = os.stat(p)
        if not st.st_mode & stat.S_IXOTH:
            raise RuntimeError(f"{p} is not searchable by the postfix user "
                               "(mode %o); a private Postfix cannot live "
                               "under it" % (st.st_mode & 0o7777))
        if p == "/":
            return
        p = os.path.dirname(p)


def _starttime(pid):
    """The start time (field 22 of /proc/PID/stat) of pid, None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _zombie(pid):
    """True for a zombie, False for a live process, None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return None


if __name__ == "__main__":
    # smoke test: start, send 10 messages, count, stop
    import socket
    import sys
    import tempfile
    with tempfile.TemporaryDirectory(prefix="bench-postfix.") as t:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        log = "-v" in sys.argv
        with PrivatePostfix(t, port, log=log) as pf:
            print("version", pf.version(), "port", port, "pids", pf.pids())
            subprocess.run(["/usr/sbin/smtp-source", "-s", "5", "-m", "10",
                            "-l", "4096", "-f", "a@bench.test", "-t",
                            "b@dest.test", f"127.0.0.1:{port}"], check=True)
            time.sleep(0.5)
            print("queue", {q: pf.queue_count(q) for q in QUEUES},
                  "postqueue", pf.postqueue_count())
            if log:
                print(open(os.path.join(t, "maillog")).read()[-3000:])
        print("stopped; leftover pids", pf.pids())
