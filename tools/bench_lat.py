#!/usr/bin/python3
"""Latency of tools/bench.py: intake's 250 to the sink's 250, per message.

Owns: the injector-side stamp (a small LD_PRELOAD library, compiled here
with gcc into the scratch directory, that smtp-source loads: at each reply
"250 ... queued as QUEUEID" it reads, it notes the wall-clock time in
microseconds with the Message-Id it wrote last on that connection), the
join of those stamps with ringsink's --latency-log (the wall-clock time in
microseconds at which ringsink decided its 250, with the Message-ID), and
the percentiles.  Both ends use CLOCK_REALTIME on the same machine.  The
same measurement serves ringmta and Postfix: both answer "250 2.0.0 Ok:
queued as ID" and keep the injector's Message-Id.

For workloads released from a full queue (W2, W4, W5) there is no intake
250 in the timed part; their latency is from the release (a wall-clock
time the caller takes) to each message's 250 at the sink.

Must not: change what smtp-source sends or how it behaves (the library
only reads the buffers its read() and write() calls pass, and writes its
records to its own file when its 4 MiB buffer fills, and at exit).
"""
import os
import subprocess

STAMP_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define STAMP_FDS 4096
#define STAMP_ID 160
static char stamp_mid[STAMP_FDS][STAMP_ID];
static struct timespec stamp_dot[STAMP_FDS]; /* its end of data sent */
static char *stamp_buf;
static size_t stamp_len, stamp_cap = 4u << 20;
static int stamp_fd = -1;
static ssize_t (*stamp_read)(int, void *, size_t);
static ssize_t (*stamp_write)(int, const void *, size_t);

static void stamp_flush(void)
{
	size_t off = 0;

	while (stamp_fd >= 0 && off < stamp_len) {
		ssize_t w = stamp_write(stamp_fd, stamp_buf + off,
					stamp_len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	stamp_len = 0;
}

/* the real read and write (also if another library's constructor calls
 * them before ours ran) */
static void stamp_resolve(void)
{
	if (stamp_read != NULL)
		return;
	stamp_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	stamp_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT,
								"write");
}

__attribute__((constructor)) static void stamp_init(void)
{
	const char *p = getenv("BENCH_STAMP_FILE");

	stamp_resolve();
	stamp_buf = malloc(stamp_cap);
	if (p != NULL && stamp_buf != NULL)
		stamp_fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				0644);
}

__attribute__((destructor)) static void stamp_fini(void)
{
	stamp_flush();
}

ssize_t write(int fd, const void *b, size_t n)
{
	static const char key[] = "\nMessage-Id: <";
	const char *p;

	stamp_resolve();
	if (fd >= 0 && fd < STAMP_FDS && stamp_fd >= 0 &&
	    (p = memmem(b, n, key, sizeof(key) - 1)) != NULL) {
		const char *s = p + sizeof(key) - 2, *e = s;
		const char *end = (const char *)b + n;

		while (e < end && *e != '>' && *e != '\r' && *e != '\n')
			e++;
		if (e < end && *e == '>' && (size_t)(e - s) + 2 < STAMP_ID) {
			memcpy(stamp_mid[fd], s, (size_t)(e - s) + 1);
			stamp_mid[fd][e - s + 1] = '\0';
		}
	}
	if (fd >= 0 && fd < STAMP_FDS && stamp_mid[fd][0] && n >= 3 &&
	    memcmp((const char *)b + n - 3, ".\r\n", 3) == 0 &&
	    (n == 3 || ((const char *)b)[n - 4] == '\n'))
		clock_gettime(CLOCK_REALTIME, &stamp_dot[fd]);
	return stamp_write(fd, b, n);
}

ssize_t read(int fd, void *b, size_t n)
{
	static const char key[] = "queued as ";
	ssize_t r;
	const char *p, *e, *end;
	struct timespec ts;

	stamp_resolve();
	r = stamp_read(fd, b, n);
	if (r < 4 || fd < 0 || fd >= STAMP_FDS || !stamp_mid[fd][0] ||
	    memcmp(b, "250", 3) != 0)
		return r;
	p = memmem(b, (size_t)r, key, sizeof(key) - 1);
	if (p == NULL)
		return r;
	clock_gettime(CLOCK_REALTIME, &ts);
	p += sizeof(key) - 1;
	end = (const char *)b + r;
	for (e = p; e < end && *e > ' ' && e - p < 64; e++)
		;
	if (stamp_len + STAMP_ID + 100 > stamp_cap)
		stamp_flush();
	stamp_len += (size_t)snprintf(stamp_buf + stamp_len,
				      stamp_cap - stamp_len,
				      "%lld.%06ld %s %.*s %lld.%06ld\n",
				      (long long)ts.tv_sec, ts.tv_nsec / 1000,
				      stamp_mid[fd], (int)(e - p), p,
				      (long long)stamp_dot[fd].tv_sec,
				      stamp_dot[fd].tv_nsec / 1000);
	stamp_mid[fd][0] = '\0';
	return r;
}
"""

_lib = {}


def stamp_lib(tmp):
    """The path of the stamp library (built once per run), or None with the
    reason in stamp_lib.why."""
    if "path" not in _lib:
        src = os.path.join(tmp, "bench_stamp.c")
        out = os.path.join(tmp, "bench_stamp.so")
        with open(src, "w") as f:
            f.write(STAMP_C)
        r = subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", out, src,
                            "-ldl"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        _lib["path"] = out if r.returncode == 0 else None
        _lib["why"] = None if r.returncode == 0 else r.stdout[-300:]
    return _lib["path"]


def stamp_env(tmp, path):
    """The environment for an smtp-source whose intake 250s are stamped
    into path (None without the library)."""
    lib = stamp_lib(tmp)
    if lib is None:
        return None
    return dict(os.environ, LD_PRELOAD=lib, BENCH_STAMP_FILE=path)


def pctl(vals):
    """(p50, p99) by nearest rank of a list of numbers, (None, None) if
    empty."""
    if not vals:
        return None, None
    v = sorted(vals)
    return v[len(v) // 2], v[min(len(v) - 1, int(len(v) * 0.99))]


def read_sink_log(path):
    """[(seconds, message-id)] from a ringsink --latency-log."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                t, _, mid = line.rstrip("\n").partition(" ")
                out.append((float(t), mid.strip()))
    except OSError:
        pass
    return out


def e2e(stamp_path, sink_path):
    """Intake 250 (injector side) to sink 250 per message, joined on the
    Message-ID: {"n": matched, "p50": ms, "p99": ms, "neg": how many came
    out below zero, "dot_p50", "dot_p99": the same from smtp-source's
    write of the end of data}.  A Message-ID seen twice on either side is
    left out."""
    stamps, dup = {}, set()
    try:
        with open(stamp_path) as f:
            for line in f:
                v = line.split()
                if len(v) >= 4:
                    if v[1] in stamps:
                        dup.add(v[1])
                    stamps[v[1]] = (float(v[0]), float(v[3]))
    except OSError:
        pass
    seen, lat = set(), {}
    for t, mid in read_sink_log(sink_path):
        if mid in seen:
            dup.add(mid)
        seen.add(mid)
        if mid in stamps:
            lat[mid] = ((t - stamps[mid][0]) * 1000.0,
                        (t - stamps[mid][1]) * 1000.0)
    vals = [v for k, v in lat.items() if k not in dup]
    p50, p99 = pctl([v[0] for v in vals])
    d50, d99 = pctl([v[1] for v in vals])
    return {"n": len(vals), "p50": p50, "p99": p99, "dot_p50": d50,
            "dot_p99": d99, "neg": sum(1 for v in vals if v[0] < 0)}


def since(sink_path, t_wall):
    """From a release at wall-clock t_wall (seconds) to each 250 in a
    ringsink --latency-log: {"n", "p50", "p99"} in ms."""
    vals = [(t - t_wall) * 1000.0 for t, _ in read_sink_log(sink_path)]
    p50, p99 = pctl(vals)
    return {"n": len(vals), "p50": p50, "p99": p99, "neg": 0}


def fmt_ms(x):
    """A latency in ms for a table: 2 decimals below 10 ms, 1 below 100,
    none above; 'n/a' for None."""
    if x is None:
        return "n/a"
    if abs(x) < 10:
        return f"{x:.2f}"
    return f"{x:.1f}" if abs(x) < 100 else f"{x:,.0f}"


def fmt_pair(r):
    """'p50 / p99 ms' of a result holding p50/p99 (ms), or n/a."""
    if r is None or r.get("p50") is None:
        return "n/a"
    return f"{fmt_ms(r['p50'])} / {fmt_ms(r['p99'])} ms"


# The method, as docs/BENCHMARKS.md states it (W1 carries it; W3 refers
# to it).
METHOD_MD = (
    "Latency (p50 / p99 over every message, nearest rank) is measured the "
    "same way for both MTAs in the same runs: from the moment smtp-source "
    "reads the MTA's intake reply `250 2.0.0 Ok: queued as ID` to the "
    "moment ringsink decides its own 250 for that message, joined on the "
    "Message-Id smtp-source writes (both MTAs pass it on unchanged). The "
    "intake end is stamped on the injector side: smtp-source runs with a "
    "small LD_PRELOAD library (tools/bench_lat.py builds it with gcc) that "
    "watches its read() and write() buffers and, for each such reply, "
    "notes CLOCK_REALTIME in microseconds with the last Message-Id written "
    "on that connection, buffered (written when 4 MiB fill, and at exit: "
    "20,000 messages stay below that); smtp-source itself sends "
    "and waits exactly as before. The sink end is ringsink's "
    "`--latency-log` (CLOCK_REALTIME in microseconds and the Message-ID, "
    "buffered; docs/ringsink.md). A message can come out slightly "
    "negative when the MTA relays it before smtp-source has been "
    "scheduled to read its 250 (ringmta commits, answers and starts the "
    "delivery in the same loop turn); such values are kept. Neither MTA's "
    "own log is used: Postfix's has 1 s timestamps and its `delays=` start "
    "at MAIL FROM, while ringmta's delivery log has 1 ms timestamps.")
