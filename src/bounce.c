/* SPDX-License-Identifier: MIT */
/*
 * bounce.c: RFC 3464 delivery status notifications, built in memory:
 * the names, the cleaning of everything that enters a DSN, dates, line
 * wrapping, the seeded generator and the RFC 3461 decisions (whether to
 * send, whether a message is itself a DSN).  The multipart/report layout is
 * bounce_mime.c's.  Must not do I/O, read the clock or decide policy: the
 * caller says what happened, when and to whom.  Invariants of every
 * output: CRLF line endings only, lines of at most BOUNCE_LINE_MAX bytes, a
 * boundary absent from every part, no 8-bit byte outside the parts
 * declared 8bit.  Remote text becomes printable ASCII with collapsed white
 * space; addresses and names lose their control bytes (and, without
 * SMTPUTF8, their 8-bit bytes).
 */
#include "bounce_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BOUNCE_WRAP_COLS 78

static const char *const bounce_kind_names[] = {
    [BOUNCE_FAILED] = "failed",
    [BOUNCE_DELAYED] = "delayed",
    [BOUNCE_RELAYED] = "relayed",
    [BOUNCE_DELIVERED] = "delivered",
};
_Static_assert(nitems(bounce_kind_names) == BOUNCE_KIND__COUNT,
	       "bounce_kind_names");

static const char *const bounce_action_names[] = {
    [BOUNCE_ACTION_FAILED] = "failed",
    [BOUNCE_ACTION_DELAYED] = "delayed",
    [BOUNCE_ACTION_DELIVERED] = "delivered",
    [BOUNCE_ACTION_RELAYED] = "relayed",
    [BOUNCE_ACTION_EXPANDED] = "expanded",
};
_Static_assert(nitems(bounce_action_names) == BOUNCE_ACTION__COUNT,
	       "bounce_action_names");

static const char *const bounce_ret_names[] = {
    [BOUNCE_RET_NONE] = "none",
    [BOUNCE_RET_FULL] = "full",
    [BOUNCE_RET_HDRS] = "hdrs",
};
_Static_assert(nitems(bounce_ret_names) == BOUNCE_RET__COUNT,
	       "bounce_ret_names");

static const char bounce_action_class[] = {
    [BOUNCE_ACTION_FAILED] = '5',    [BOUNCE_ACTION_DELAYED] = '4',
    [BOUNCE_ACTION_DELIVERED] = '2', [BOUNCE_ACTION_RELAYED] = '2',
    [BOUNCE_ACTION_EXPANDED] = '2',
};
_Static_assert(nitems(bounce_action_class) == BOUNCE_ACTION__COUNT,
	       "bounce_action_class");

static const char *const bounce_wday[] = {"Sun", "Mon", "Tue", "Wed",
					  "Thu", "Fri", "Sat"};
static const char *const bounce_mon[] = {"Jan", "Feb", "Mar", "Apr",
					 "May", "Jun", "Jul", "Aug",
					 "Sep", "Oct", "Nov", "Dec"};

const char *
bounce_kind_str(enum bounce_kind k)
{
	return (unsigned)k < nitems(bounce_kind_names) ? bounce_kind_names[k]
						       : "?";
}

const char *
bounce_action_str(enum bounce_action a)
{
	return (unsigned)a < nitems(bounce_action_names)
		   ? bounce_action_names[a]
		   : "?";
}

const char *
bounce_ret_str(enum bounce_ret r)
{
	return (unsigned)r < nitems(bounce_ret_names) ? bounce_ret_names[r]
						      : "?";
}

/* ---- growing buffer ---------------------------------------------------- */

void
bounce_buf_put(struct bounce_buf *b, const void *s, size_t n)
{
	if (n == 0)
		return;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 1024;

		while (cap - b->len < n)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void
bounce_buf_puts(struct bounce_buf *b, const char *s)
{
	bounce_buf_put(b, s, strlen(s));
}

void
bounce_buf_putc(struct bounce_buf *b, char c)
{
	bounce_buf_put(b, &c, 1);
}

void
bounce_buf_printf(struct bounce_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	/* Only short fixed texts go through here; longer ones are bugs. */
	BUG_ON(n < 0 || (size_t)n >= sizeof(tmp));
	bounce_buf_put(b, tmp, (size_t)n);
}

void
bounce_buf_free(struct bounce_buf *b)
{
	free(b->p);
	*b = (struct bounce_buf){0};
}

/* ---- cleaning ---------------------------------------------------------- */

/*
 * Length of the well-formed UTF-8 sequence at s[0..n) that is not a C1
 * control, or 0.
 */
static size_t
bounce_utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07u;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0)
		return 0;
	return len;
}

/*
 * Remote text -> dst[BOUNCE_DIAG_MAX + 1]: printable ASCII, every run of
 * white space or control bytes one space, no leading or trailing space,
 * 8-bit bytes '?', cut at BOUNCE_DIAG_MAX with "...".  Returns the length.
 */
size_t
bounce_clean_text(char *dst, const char *src, size_t n)
{
	size_t len = 0;
	bool space = false;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c <= 0x20 || c == 0x7f) {
			space = len > 0;
			continue;
		}
		if (len + (space ? 1 : 0) + 1 > BOUNCE_DIAG_MAX - 3) {
			memcpy(dst + len, "...", 3);
			len += 3;
			break;
		}
		if (space)
			dst[len++] = ' ';
		space = false;
		dst[len++] = c < 0x80 ? (char)c : '?';
	}
	dst[len] = '\0';
	return len;
}

/*
 * An address -> dst[BOUNCE_ADDR_MAX + 1]: control bytes '?', 8-bit bytes
 * kept only as well-formed UTF-8 when utf8, else '?'; cut at
 * BOUNCE_ADDR_MAX on a character boundary.  Returns the length.
 */
size_t
bounce_clean_addr(char *dst, const char *src, bool utf8)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t n = strlen(src), len = 0;

	for (size_t i = 0; i < n && len < BOUNCE_ADDR_MAX;) {
		size_t u =
		    s[i] >= 0x80 && utf8 ? bounce_utf8_len(s + i, n - i) : 0;

		if (u > 0) {
			if (len + u > BOUNCE_ADDR_MAX)
				break;
			memcpy(dst + len, s + i, u);
			len += u;
			i += u;
			continue;
		}
		dst[len++] = s[i] < 0x20 || s[i] >= 0x7f ? '?' : (char)s[i];
		i++;
	}
	dst[len] = '\0';
	return len;
}

/*
 * A host name, domain, id or type token -> dst[max + 1]: letters, digits
 * and "-._:[]+" kept, anything else '?', cut at max.  Returns the length.
 */
size_t
bounce_clean_name(char *dst, const char *src, size_t n, size_t max)
{
	size_t len = 0;

	for (size_t i = 0; i < n && len < max; i++) {
		char c = src[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || strchr("-._:[]+", c);

		dst[len++] = ok && c != '\0' ? c : '?';
	}
	dst[len] = '\0';
	return len;
}

/* Whether s holds a byte >= 0x80. */
bool
bounce_has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* Whether st is an RFC 3463 status: class "." 1*3digit "." 1*3digit. */
static bool
bounce_status_ok(const char *st)
{
	const char *p;

	if (st == NULL || st[0] == '\0' || !strchr("245", st[0]) ||
	    st[1] != '.')
		return false;
	p = st + 2;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;

		while (p[d] >= '0' && p[d] <= '9')
			d++;
		if (d < 1 || d > 3)
			return false;
		p += d;
		if (part == 0 && *p++ != '.')
			return false;
	}
	return *p == '\0';
}

/*
 * RFC 3463 status for a recipient into dst[16]: the caller's if valid,
 * with the class forced to the action's (4.x.x in a failure becomes
 * 5.x.x), else "C.0.0".
 */
void
bounce_status(char *dst, const char *st, enum bounce_action action)
{
	if (bounce_status_ok(st))
		snprintf(dst, 16, "%c%s", bounce_action_class[action], st + 1);
	else
		snprintf(dst, 16, "%c.0.0", bounce_action_class[action]);
}

/* RFC 5322 date-time in UTC into buf[40]; -EINVAL if t is out of range. */
int
bounce_date(char *buf, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || (int64_t)tt != t || gmtime_r(&tt, &tm) == NULL ||
	    tm.tm_year + 1900 > 9999)
		return -EINVAL;
	snprintf(buf, 40, "%s, %d %s %04d %02d:%02d:%02d +0000",
		 bounce_wday[tm.tm_wday], tm.tm_mday, bounce_mon[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return 0;
}

/* ---- line wrapping ----------------------------------------------------- */

/*
 * Append s[0..n) at column *col, keeping lines within BOUNCE_WRAP_COLS
 * where spaces allow.  indent == NULL: header folding, a break is CRLF
 * inserted before a space run (lossless on unfolding).  Otherwise text: a
 * break replaces the space run with CRLF + indent.  hard: a word too long
 * for a line is split (header mode continues it after CRLF SP); without
 * it, words are never split (the caller bounds their length).
 */
void
bounce_wrap(struct bounce_buf *b, size_t *col, const char *s, size_t n,
	    const char *indent, bool hard)
{
	size_t ilen = indent ? strlen(indent) : 1;
	size_t i = 0;

	while (i < n) {
		size_t sp = i, w;

		while (sp < n && s[sp] == ' ')
			sp++;
		w = sp;
		while (w < n && s[w] != ' ')
			w++;
		if (sp > i && w > sp &&
		    *col + (sp - i) + (w - sp) > BOUNCE_WRAP_COLS &&
		    *col > ilen) {
			bounce_buf_puts(b, "\r\n");
			if (indent) {
				bounce_buf_puts(b, indent);
				i = sp;
			}
			*col = indent ? ilen : 0;
		}
		bounce_buf_put(b, s + i, sp - i);
		*col += sp - i;
		for (i = sp; i < w;) {
			size_t room = *col < BOUNCE_WRAP_COLS
					  ? BOUNCE_WRAP_COLS - *col
					  : 0;
			size_t chunk = hard ? MIN(w - i, room) : w - i;

			if (chunk == 0) {
				bounce_buf_puts(b, "\r\n");
				bounce_buf_puts(b, indent ? indent : " ");
				*col = ilen;
				continue;
			}
			bounce_buf_put(b, s + i, chunk);
			*col += chunk;
			i += chunk;
		}
	}
}

/* "Name: value" + CRLF, folded; value without CR or LF. */
void
bounce_field(struct bounce_buf *b, const char *name, const char *v, size_t n,
	     bool hard)
{
	size_t col = strlen(name) + 2;

	bounce_buf_puts(b, name);
	bounce_buf_puts(b, ": ");
	bounce_wrap(b, &col, v, n, NULL, hard);
	bounce_buf_puts(b, "\r\n");
}

/* Text paragraph(s) at column 0, wrapped, ending in CRLF. */
void
bounce_para(struct bounce_buf *b, const char *s)
{
	size_t col = 0;

	bounce_wrap(b, &col, s, strlen(s), "", true);
	bounce_buf_puts(b, "\r\n");
}

/* ---- determinism from the seed ----------------------------------------- */

void
bounce_rng_init(struct bounce_rng *r, const uint8_t *seed, size_t n)
{
	uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ seed[i]) * 0x100000001b3u;
	r->s = h;
}

/* splitmix64 */
uint64_t
bounce_rng_next(struct bounce_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

void
bounce_out_fini(struct bounce_out *out)
{
	free(out->msg);
	free(out->env_sender);
	free(out->env_rcpt);
	*out = (struct bounce_out){0};
}

/* See bounce.h. */
bool
bounce_should_send(const char *sender, unsigned flags, unsigned notify,
		   enum bounce_kind kind)
{
	unsigned need = 0;

	if (sender == NULL || sender[0] == '\0' || (flags & BOUNCE_F_IS_DSN) ||
	    (unsigned)kind >= BOUNCE_KIND__COUNT)
		return false;
	if (notify == 0)
		notify = BOUNCE_NOTIFY_FAILURE | BOUNCE_NOTIFY_DELAY;
	if (notify & BOUNCE_NOTIFY_NEVER)
		return false;
	switch (kind) {
	case BOUNCE_FAILED:
		need = BOUNCE_NOTIFY_FAILURE;
		break;
	case BOUNCE_DELAYED:
		need = BOUNCE_NOTIFY_DELAY;
		break;
	case BOUNCE_RELAYED:
	case BOUNCE_DELIVERED:
		need = BOUNCE_NOTIFY_SUCCESS;
		break;
	case BOUNCE_KIND__COUNT:
		return false;
	}
	return (notify & need) != 0;
}

/* Append a header line's bytes to v[size], spaces for CR/LF/HT. */
static void
bounce_ct_append(char *v, size_t size, size_t *vn, const char *s, size_t n)
{
	for (size_t i = 0; i < n && *vn + 1 < size; i++) {
		char c = s[i];

		v[(*vn)++] = c == '\t' || c == '\r'   ? ' '
			     : (c >= 'A' && c <= 'Z') ? (char)(c + 32)
						      : c;
	}
	v[*vn] = '\0';
}

/* Whether a lower-cased Content-Type value is a delivery report. */
static bool
bounce_ct_is_report(const char *v)
{
	static const char *const types[] = {"delivery-status",
					    "global-delivery-status"};
	const char *p = v + strspn(v, " ");

	if (strncmp(p, "multipart/report", 16) != 0 ||
	    (p[16] != '\0' && p[16] != ' ' && p[16] != ';'))
		return false;
	for (p += 16; (p = strstr(p, "report-type")) != NULL;) {
		p += 11;
		p += strspn(p, " ");
		if (*p != '=')
			continue;
		p++;
		p += strspn(p, " ");
		p += *p == '"';
		for (size_t i = 0; i < nitems(types); i++) {
			size_t n = strlen(types[i]);

			if (strncmp(p, types[i], n) == 0 &&
			    strchr("\"; ", p[n]) != NULL)
				return true;
		}
	}
	return false;
}

/*
 * See bounce.h.  Only the first Content-Type field counts; lines may end in
 * CRLF or LF; the scan stops at the first empty line.
 */
bool
bounce_is_dsn(const char *hdr, size_t len)
{
	char v[512];
	size_t vn = 0, i = 0;
	bool in_ct = false;

	v[0] = '\0';
	while (i < len) {
		const char *line = hdr + i;
		size_t e = i, n;

		while (e < len && hdr[e] != '\n')
			e++;
		n = e - i;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		i = e + 1;
		if (n == 0)
			break;
		if (line[0] == ' ' || line[0] == '\t') {
			if (in_ct)
				bounce_ct_append(v, sizeof(v), &vn, line, n);
			continue;
		}
		if (in_ct)
			break;
		if (n >= 13 && strncasecmp(line, "Content-Type:", 13) == 0) {
			in_ct = true;
			bounce_ct_append(v, sizeof(v), &vn, line + 13, n - 13);
		}
	}
	return in_ct && bounce_ct_is_report(v);
}
