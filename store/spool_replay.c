/* SPDX-License-Identifier: MIT */
/*
 * spool_replay.c: start-up replay of the spool (docs/SPOOL.md sections 6, 7).
 *
 * Runs inside spool_open(), before the loop, so it uses plain syscalls.
 * Reads every segment in number order through a 1 MiB window: sealed
 * segments head-only, the newest shared segment fully (body CRCs too);
 * applies MSG/RCPT/DONE records in file (= seq) order; copies every
 * corrupt byte range to quarantine/ (durably) before skipping it; truncates
 * a torn tail of the newest segment; refuses a spool written by a newer
 * ringmta (-ENOTSUP).  Never delivers anything partially: a MSG inside a
 * skipped range never reaches the index.  Finally creates the fresh
 * segment that appends go to.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "spool_int.h"

#define SPOOL_RD_WINDOW (1u << 20)

/* A read window over one segment file. */
struct spool_rd {
	int fd;
	uint64_t size;
	uint8_t *buf;
	size_t cap;
	uint64_t woff;
	size_t wlen;
};

static int
spool_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got_r)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + got, len - got,
				  (off_t)(off + got));

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*got_r = got;
	return 0;
}

/*
 * Make the window hold [off, off + need) (less at end of file).  Sets *p to
 * off's byte and *avail to the bytes from there on.  Returns 0 or -errno.
 */
static int
spool_rd_get(struct spool_rd *rd, uint64_t off, size_t need, const uint8_t **p,
	     size_t *avail)
{
	uint64_t want = MIN((uint64_t)need, rd->size - MIN(off, rd->size));
	int rc;

	if (off < rd->woff || off + want > rd->woff + rd->wlen) {
		size_t cap = MAX((size_t)want, (size_t)SPOOL_RD_WINDOW);

		if (cap > rd->cap) {
			rd->buf = xrealloc(rd->buf, cap);
			rd->cap = cap;
		}
		rc = spool_pread_full(rd->fd, rd->buf, rd->cap, off, &rd->wlen);
		if (rc < 0)
			return rc;
		rd->woff = off;
	}
	*p = rd->buf + (off - rd->woff);
	*avail = rd->wlen - (size_t)(off - rd->woff);
	return 0;
}

/*
 * Is there a valid record at off?  Head-only or full.  Returns 1 (v points
 * into the window), 0 or -EBADMSG (not valid: torn or corrupt), -ENOTSUP,
 * or another -errno from reading.
 */
static int
spool_rd_check(struct spool_rd *rd, uint64_t off, uint64_t nonce, bool full,
	       struct record_view *v)
{
	const uint8_t *p;
	size_t avail, need = RECORD_HDR_SIZE;
	int rc;

	for (int round = 0; round < 3; round++) {
		rc = spool_rd_get(rd, off, need, &p, &avail);
		if (rc < 0)
			return rc;
		rc = full ? record_decode(p, avail, nonce, v)
			  : record_decode_head(p, avail, nonce, v);
		if (rc != 0)
			break;
		if (v->size == 0 || avail < need)
			return 0; /* the file ends inside it */
		need = full ? v->size : RECORD_HDR_SIZE + v->head_len;
	}
	if (rc == 1 && off + v->size > rd->size)
		return 0; /* head intact, body cut short */
	return rc;
}

/* The first offset >= from + 8 holding a valid record, or rd->size. */
static int
spool_rd_resync(struct spool_rd *rd, uint64_t from, uint64_t nonce, bool full,
		uint64_t *next_r)
{
	uint64_t pos = from + RECORD_ALIGN;
	struct record_view v;

	while (pos < rd->size) {
		const uint8_t *p;
		size_t avail, skip;
		int rc = spool_rd_get(rd, pos, SPOOL_RD_WINDOW, &p, &avail);

		if (rc < 0)
			return rc;
		rc = record_scan_next(p, avail, nonce, &skip);
		if (rc == 0) {
			if (pos + avail >= rd->size)
				break;
			pos += skip ? skip : RECORD_ALIGN;
			continue;
		}
		rc = spool_rd_check(rd, pos + skip, nonce, full, &v);
		if (rc == -ENOTSUP || rc == 1) {
			*next_r = pos + skip;
			return 0;
		}
		if (rc < 0 && rc != -EBADMSG)
			return rc;
		pos += skip + RECORD_ALIGN;
	}
	*next_r = rd->size;
	return 0;
}

/* Copy [from, to) of a segment to quarantine/, durably. */
static int
spool_quarantine(struct spool *sp, struct spool_rd *rd, uint64_t number,
		 uint64_t from, uint64_t to, bool torn)
{
	char name[64];
	int fd, rc = 0;

	snprintf(name, sizeof(name), "%016" PRIx64 "-%016" PRIx64 ".bin",
		 number, from);
	fd = openat(sp->qfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd == -1)
		return -errno;
	for (uint64_t off = from; off < to && rc == 0;) {
		const uint8_t *p;
		size_t avail, n;

		rc = spool_rd_get(rd, off, SPOOL_RD_WINDOW, &p, &avail);
		n = (size_t)MIN((uint64_t)avail, to - off);
		if (rc == 0 && n == 0)
			rc = -EIO;
		if (rc == 0 &&
		    pwrite(fd, p, n, (off_t)(off - from)) != (ssize_t)n)
			rc = errno ? -errno : -EIO;
		off += n;
	}
	if (rc == 0 && fsync(fd) == -1)
		rc = -errno;
	close(fd);
	if (rc == 0 && fsync(sp->qfd) == -1)
		rc = -errno;
	if (rc < 0) {
		log_err("spool: cannot copy segment %016" PRIx64
			" bytes %" PRIu64 "..%" PRIu64
			" to quarantine/: %s; leaving them in place",
			number, from, to, strerror(-rc));
		return rc;
	}
	sp->st.quarantined++;
	log_msg(torn ? LOG_WARN : LOG_ERR,
		"spool: segment %016" PRIx64 " bytes %" PRIu64 "..%" PRIu64
		" are %s: copied to quarantine/%s",
		number, from, to, torn ? "a torn write" : "corrupt", name);
	return 0;
}

static bool
spool_rd_zeros(struct spool_rd *rd, uint64_t from)
{
	for (uint64_t off = from; off < rd->size;) {
		const uint8_t *p;
		size_t avail;

		if (spool_rd_get(rd, off, SPOOL_RD_WINDOW, &p, &avail) < 0 ||
		    avail == 0)
			return false;
		for (size_t i = 0; i < avail; i++)
			if (p[i] != 0)
				return false;
		off += avail;
	}
	return true;
}

/* --- applying records --- */

static void
spool_apply_msg(struct spool *sp, struct spool_seg *seg, uint64_t off,
		const struct record_view *v)
{
	struct record_msg m;
	struct spool_msg *msg, *old;

	if (record_msg_parse(v, &m) < 0)
		return;
	old = spool_index_get(sp, m.id);
	if (old != NULL && !m.copy) {
		char ids[SPOOL_ID_STR_LEN];

		log_err("spool: message %s appears twice; ignoring the copy "
			"in segment %016" PRIx64,
			spool_id_str(m.id, ids), seg->number);
		return;
	}
	if (old != NULL) {
		old->seg->live--;
		msg = old;
	} else {
		msg = spool_msg_new(m.id, &m);
		if (msg == NULL)
			return;
		spool_index_add(sp, msg);
	}
	msg->seg = seg;
	seg->live++;
	msg->rec_off = off;
	msg->body_off = (uint32_t)m.body_off;
	msg->body_len = m.body_len;
	msg->body_crc = v->body_crc;
}

static void
spool_apply(struct spool *sp, struct spool_seg *seg, uint64_t off,
	    const struct record_view *v)
{
	struct record_rcpt r;
	struct record_done d;
	struct spool_msg *msg;

	switch (v->type) {
	case RECORD_T_MSG:
		spool_apply_msg(sp, seg, off, v);
		return;
	case RECORD_T_RCPT:
		if (record_rcpt_parse(v, &r) < 0)
			return;
		msg = spool_index_get(sp, r.msgid);
		if (msg == NULL)
			return; /* reclaimed or quarantined */
		if ((uint64_t)r.index + r.count > msg->nrcpt) {
			log_err("spool: RCPT record beyond the message's "
				"recipients in segment %016" PRIx64,
				seg->number);
			return;
		}
		spool_rcpt_apply(sp, msg, &r);
		return;
	case RECORD_T_DONE:
		if (record_done_parse(v, &d) < 0)
			return;
		msg = spool_index_get(sp, d.msgid);
		if (msg == NULL)
			return;
		msg->seg->live--;
		spool_index_del(sp, msg);
		spool_msg_free(msg);
		return;
	}
	/* An unknown type marked SKIPPABLE: skip it. */
}

/* --- segments --- */

/* Bad records from b: quarantine up to the next good one, or handle EOF. */
static int
spool_replay_bad(struct spool *sp, struct spool_rd *rd, struct spool_seg *seg,
		 bool full, uint64_t b, uint64_t *next_r)
{
	uint64_t g;
	int rc = spool_rd_resync(rd, b, seg->nonce, full, &g);

	if (rc < 0)
		return rc;
	*next_r = g;
	/* A copy that fails (disk full) leaves the bytes where they are: they
	 * are skipped again next time, never deleted uncopied. */
	if (g < rd->size || !full) {
		/* Inside a segment, or at the end of a sealed one: corrupt. */
		(void)spool_quarantine(sp, rd, seg->number, b, g, false);
		return 0;
	}
	if (!spool_rd_zeros(rd, b) &&
	    spool_quarantine(sp, rd, seg->number, b, g, true) < 0)
		return 0;
	log_warn("spool: torn tail of segment %016" PRIx64 " at %" PRIu64
		 " (%" PRIu64 " bytes) truncated",
		 seg->number, b, rd->size - b);
	if (ftruncate(rd->fd, (off_t)b) == -1 || fdatasync(rd->fd) == -1)
		return -errno;
	sp->st.torn++;
	rd->size = b;
	rd->wlen = 0;
	return 0;
}

/* Walk the records of a segment from off. */
static int
spool_replay_walk(struct spool *sp, struct spool_rd *rd, struct spool_seg *seg,
		  uint64_t off, bool full)
{
	struct record_view v;
	bool warned = false;

	while (off < rd->size) {
		int rc = spool_rd_check(rd, off, seg->nonce, full, &v);

		if (rc == -ENOTSUP) {
			log_err("spool: segment %016" PRIx64 " holds a record "
				"of a newer ringmta; refusing to start",
				seg->number);
			return rc;
		}
		if (rc < 0 && rc != -EBADMSG)
			return rc;
		if (rc != 1) {
			rc = spool_replay_bad(sp, rd, seg, full, off, &off);
			if (rc < 0)
				return rc;
			continue;
		}
		if (v.seq <= sp->seq && !warned) {
			log_err("spool: seq %" PRIu64
				" out of order in segment "
				"%016" PRIx64 " (bug); replaying in file order",
				v.seq, seg->number);
			warned = true;
		}
		sp->seq = MAX(sp->seq, v.seq);
		spool_apply(sp, seg, off, &v);
		off += v.size;
	}
	seg->tail = rd->size;
	return 0;
}

/* Move a whole file to quarantine/ (bad segment header). */
static int
spool_quarantine_file(struct spool *sp, const char *name)
{
	if (renameat(sp->segfd, name, sp->qfd, name) == -1)
		return -errno;
	if (fsync(sp->qfd) == -1 || fsync(sp->segfd) == -1)
		return -errno;
	sp->st.quarantined++;
	log_err("spool: segment %s has a bad header: moved to quarantine/",
		name);
	return 0;
}

static int
spool_replay_seg(struct spool *sp, uint64_t number, bool newest,
		 struct spool_rd *rd)
{
	uint8_t hdr[RECORD_SEG_HDR_MAX];
	struct record_seg h;
	struct spool_seg *seg;
	struct stat stb;
	char name[32];
	size_t got;
	int fd, rc;

	snprintf(name, sizeof(name), "%016" PRIx64 ".seg", number);
	fd = openat(sp->segfd, name, O_RDWR | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	if (fstat(fd, &stb) == -1 ||
	    spool_pread_full(fd, hdr, sizeof(hdr), 0, &got) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = record_seg_decode(hdr, got, &h);
	if (rc == -ENOTSUP) {
		close(fd);
		log_err("spool: segment %s is from a newer ringmta", name);
		return rc;
	}
	if (rc != 1 || h.number != number) {
		close(fd);
		if (newest && stb.st_size <= RECORD_SEG_HDR_SIZE) {
			/* Created, header never durable, nothing acknowledged.
			 */
			log_warn("spool: removing unfinished segment %s", name);
			return unlinkat(sp->segfd, name, 0) == -1 ? -errno : 0;
		}
		return spool_quarantine_file(sp, name);
	}
	seg = xcalloc(1, sizeof(*seg));
	seg->number = number;
	seg->nonce = h.nonce;
	seg->flags = h.flags;
	seg->fd = fd;
	seg->sealed = true;
	spool_seg_append(sp, seg);
	rd->fd = fd;
	rd->size = (uint64_t)stb.st_size;
	rd->wlen = 0;
	rd->woff = 0;
	return spool_replay_walk(sp, rd, seg, h.hdr_size,
				 newest && !(h.flags & RECORD_SEG_F_SINGLE));
}

static int
spool_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Segment numbers in seg/, sorted; stray tmp- files are removed. */
static int
spool_list(struct spool *sp, uint64_t **nums_r, size_t *n_r)
{
	int fd = dup(sp->segfd);
	uint64_t *nums = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		const char *s = de->d_name;
		char *end;
		uint64_t v;

		if (strncmp(s, "tmp-", 4) == 0) {
			/* A streamed message that never got its 250. */
			if (unlinkat(sp->segfd, s, 0) == 0)
				log_info("spool: removed unfinished %s", s);
			continue;
		}
		if (strlen(s) != 20 || strcmp(s + 16, ".seg") != 0)
			continue;
		v = strtoull(s, &end, 16);
		if (end != s + 16)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nums = xreallocarray(nums, cap, sizeof(*nums));
		}
		nums[n++] = v;
	}
	closedir(d);
	if (n > 1)
		qsort(nums, n, sizeof(*nums), spool_u64_cmp);
	*nums_r = nums;
	*n_r = n;
	return 0;
}

/* Create the append segment with plain syscalls (start-up only). */
static int
spool_create_sync(struct spool *sp)
{
	uint8_t hdr[RECORD_SEG_HDR_SIZE];
	struct record_seg h = {0};
	struct spool_seg *s;
	char name[32];
	int fd;

	h.number = sp->next_number++;
	h.created_us = spool_now_us();
	if (getrandom(&h.nonce, sizeof(h.nonce), 0) != sizeof(h.nonce))
		return -EIO;
	BUG_ON(record_seg_encode(&h, hdr) < 0);
	snprintf(name, sizeof(name), "%016" PRIx64 ".seg", h.number);
	fd = openat(sp->segfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
	if (fd == -1)
		return -errno;
	if (pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    (!sp->o.unsafe_no_sync &&
	     (fdatasync(fd) == -1 || fsync(sp->segfd) == -1))) {
		int rc = errno ? -errno : -EIO;

		close(fd);
		unlinkat(sp->segfd, name, 0);
		return rc;
	}
	s = xcalloc(1, sizeof(*s));
	s->number = h.number;
	s->nonce = h.nonce;
	s->fd = fd;
	s->tail = RECORD_SEG_HDR_SIZE;
	spool_seg_append(sp, s);
	sp->cur = s;
	sp->st.segments++;
	return 0;
}

/* After the walk: finished messages get their DONE, dead fds close. */
static void
spool_replay_finish(struct spool *sp)
{
	for (uint32_t i = 0; i < sp->tab_cap; i++) {
		struct spool_msg *m = sp->tab[i];

		if (m == NULL || m->nlive > 0)
			continue;
		spool_queue_done(sp, m->id, m->seg);
		spool_index_del(sp, m);
		spool_msg_free(m);
		i--; /* backward shift may have moved another entry here */
	}
	for (struct spool_seg *s = sp->segs; s; s = s->next) {
		if (s->live == 0 && s->fd >= 0) {
			close(s->fd);
			s->fd = -1;
		}
	}
}

/* Replay the whole spool.  See the file comment. */
int
spool_replay(struct spool *sp)
{
	struct spool_rd rd = {.fd = -1};
	uint64_t *nums = NULL;
	size_t n = 0;
	int rc = spool_list(sp, &nums, &n);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = spool_replay_seg(sp, nums[i], i + 1 == n, &rd);
	free(rd.buf);
	if (n > 0)
		sp->next_number = nums[n - 1] + 1;
	free(nums);
	if (rc < 0)
		return rc;
	spool_replay_finish(sp);
	log_info("spool: replayed %u live messages (%" PRIu64
		 " recipients to deliver)",
		 sp->nmsg, sp->nlive);
	rc = spool_create_sync(sp);
	if (rc == -ENOSPC || rc == -EDQUOT || rc == -EIO || rc == -EMFILE ||
	    rc == -ENFILE) {
		/* Come up anyway: the replayed queue must still be delivered
		 * (which frees space); intake stays refused until the probe
		 * or the next commit creates a segment. */
		spool_set_err(sp, rc, "creating the append segment");
		rc = 0;
	}
	return rc;
}
