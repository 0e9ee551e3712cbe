/* SPDX-License-Identifier: MIT */
/*
 * bounce_mime.c: the multipart/report writer of bounce_build().
 *
 * Owns the DSN's layout: the RFC 5322 header section, part 1 (text/plain
 * explanation), part 2 (message/delivery-status), part 3 (the returned
 * original, made CRLF-canonical with bounded lines) and the boundary drawn
 * free of all three.  Cleaning, dates and wrapping come from bounce.c
 * (bounce_int.h).  Must not do I/O beyond the caller's reader, read the
 * clock or decide whether a DSN is sent.
 */
#include "bounce_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const bounce_subjects[] = {
    [BOUNCE_FAILED] = "Undelivered Mail Returned to Sender",
    [BOUNCE_DELAYED] = "Delayed Mail (still being retried)",
    [BOUNCE_RELAYED] = "Successful Mail Delivery Report",
    [BOUNCE_DELIVERED] = "Successful Mail Delivery Report",
};
_Static_assert(nitems(bounce_subjects) == BOUNCE_KIND__COUNT,
	       "bounce_subjects");

static const char *const bounce_intros[] = {
    [BOUNCE_FAILED] = "Your message could not be delivered to one or more "
		      "of its recipients. This is a permanent error; the "
		      "reasons are given below.",
    [BOUNCE_DELAYED] = "Your message has not yet been delivered to one or "
		       "more of its recipients. The mail system will keep "
		       "trying; you do not need to send it again. The "
		       "reasons for the delay are given below.",
    [BOUNCE_RELAYED] = "Your message was relayed to the recipients below. "
		       "The next mail system does not offer delivery "
		       "notifications, so you may receive no further "
		       "notice about them.",
    [BOUNCE_DELIVERED] = "Your message was delivered to the recipients "
			 "below.",
};
_Static_assert(nitems(bounce_intros) == BOUNCE_KIND__COUNT, "bounce_intros");

/* The class digit RFC 3464 2.3.4 expects with each action. */

/* ---- the original message ---------------------------------------------- */

struct bounce_orig {
	struct bounce_buf c; /* canonical bytes */
	size_t hdr_end;      /* header section is c[0..hdr_end) */
	bool full;           /* c is the whole message, else headers */
	bool too_big, hdr_cut, hdr8, body8;
};

/*
 * Read at most want bytes of the original into *raw_r (NULL: use in->orig)
 * and *len_r; *more if it has more (the reader is asked for one byte more
 * than wanted so that this is exact).
 */
static int
bounce_orig_read(const struct bounce_in *in, size_t want, char **raw_r,
		 size_t *len_r, bool *more)
{
	size_t got = 0;
	char *raw;

	if (in->orig != NULL) {
		*raw_r = NULL;
		*len_r = MIN(in->orig_len, want);
		*more = in->orig_len > want;
		return 0;
	}
	raw = xmalloc(want + 1);
	while (got < want + 1) {
		ssize_t n =
		    in->orig_read(in->orig_arg, got, raw + got, want + 1 - got);

		if (n < 0 || (size_t)n > want + 1 - got) {
			free(raw);
			return n < 0 ? (int)n : -EIO;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*raw_r = raw;
	*len_r = MIN(got, want);
	*more = got > want;
	return 0;
}

/*
 * Canonicalise raw into o->c: every line ending CRLF, NUL '?', lines cut
 * at BOUNCE_LINE_MAX (a header line continues after CRLF SP).  Without
 * o->full, stop at the end of the header section or at max_hdr bytes
 * (then cut back to a line end).
 */
static void
bounce_orig_canon(struct bounce_orig *o, const char *raw, size_t n, bool more,
		  size_t max_hdr)
{
	size_t col = 0, line_end = 0;
	bool in_hdr = true;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)raw[i];

		if (!o->full && o->c.len >= max_hdr) {
			o->c.len = line_end;
			o->hdr_cut = true;
			break;
		}
		if (ch == '\r' || ch == '\n') {
			if (ch == '\r' && i + 1 < n && raw[i + 1] == '\n')
				i++;
			if (in_hdr && col == 0) {
				in_hdr = false;
				o->hdr_end = o->c.len;
				if (!o->full)
					break;
			}
			bounce_buf_puts(&o->c, "\r\n");
			line_end = o->c.len;
			col = 0;
			continue;
		}
		if (col == BOUNCE_LINE_MAX) {
			bounce_buf_puts(&o->c, in_hdr ? "\r\n " : "\r\n");
			line_end = o->c.len - (in_hdr ? 1 : 0);
			col = in_hdr ? 1 : 0;
		}
		if (ch >= 0x80)
			*(in_hdr ? &o->hdr8 : &o->body8) = true;
		bounce_buf_putc(&o->c, ch == '\0' ? '?' : (char)ch);
		col++;
	}
	if (col > 0 && !o->hdr_cut) {
		if (in_hdr && !o->full && more) {
			o->c.len = line_end; /* a partial last header line */
			o->hdr_cut = true;
		} else {
			bounce_buf_puts(&o->c, "\r\n");
		}
	}
	if (in_hdr) {
		o->hdr_end = o->c.len;
		o->hdr_cut |= !o->full && more;
	}
}

/* See bounce.h.  bounce_orig_load() reads this many: want + 1. */
size_t
bounce_orig_want(const struct bounce_in *in)
{
	size_t max_body = in->max_body ? in->max_body : BOUNCE_MAX_BODY_DEFAULT;
	size_t max_hdr =
	    in->max_headers ? in->max_headers : BOUNCE_MAX_HEADERS_DEFAULT;
	bool want_full =
	    in->kind == BOUNCE_FAILED && in->ret != BOUNCE_RET_HDRS;

	return (want_full ? MAX(max_body, max_hdr) : max_hdr) + 2;
}

/* Load and canonicalise the original; o->c.len == 0: nothing to return. */
static int
bounce_orig_load(const struct bounce_in *in, struct bounce_orig *o)
{
	size_t max_body = in->max_body ? in->max_body : BOUNCE_MAX_BODY_DEFAULT;
	size_t max_hdr =
	    in->max_headers ? in->max_headers : BOUNCE_MAX_HEADERS_DEFAULT;
	bool want_full =
	    in->kind == BOUNCE_FAILED && in->ret != BOUNCE_RET_HDRS;
	size_t want = bounce_orig_want(in) - 1;
	char *raw = NULL;
	size_t n = 0;
	bool more = false;
	int rc;

	*o = (struct bounce_orig){0};
	if (in->orig == NULL && in->orig_read == NULL)
		return 0;
	rc = bounce_orig_read(in, want, &raw, &n, &more);
	if (rc < 0)
		return rc;
	o->too_big = want_full && (more || n > max_body);
	o->full = want_full && !o->too_big;
	bounce_orig_canon(o, raw ? raw : in->orig, n, more, max_hdr);
	free(raw);
	if (!o->full)
		o->c.len = o->hdr_end;
	return 0;
}

/* ---- parts --------------------------------------------------------------- */

struct bounce_ctx {
	const struct bounce_in *in;
	bool utf8;
	char host[BOUNCE_NAME_MAX + 1];
	char date[40];
	struct bounce_orig orig;
	struct bounce_buf text, status;
	char addr[BOUNCE_ADDR_MAX + 1];
	char diag[BOUNCE_DIAG_MAX + 1];
};

/* The attachment sentence of part 1. */
static void
bounce_text_attach(struct bounce_ctx *x)
{
	const struct bounce_orig *o = &x->orig;
	size_t max_body =
	    x->in->max_body ? x->in->max_body : BOUNCE_MAX_BODY_DEFAULT;
	char tmp[256];

	if (o->c.len == 0)
		return;
	if (o->too_big)
		snprintf(tmp, sizeof(tmp),
			 "Your message was larger than %zu bytes, so only its "
			 "header section is attached.",
			 max_body);
	else
		snprintf(tmp, sizeof(tmp), "%s",
			 o->full ? "A copy of your message is attached."
				 : "The header section of your message is "
				   "attached.");
	bounce_buf_puts(&x->text, "\r\n");
	bounce_para(&x->text, tmp);
	if (o->hdr_cut)
		bounce_para(&x->text, "The header section was too long and "
				      "has been cut short.");
}

/* One "Label: value" line of a recipient in part 1, wrapped. */
static void
bounce_text_item(struct bounce_ctx *x, const char *label, const char *v,
		 size_t n)
{
	size_t col = 4 + strlen(label) + 2;

	bounce_buf_printf(&x->text, "    %s: ", label);
	bounce_wrap(&x->text, &col, v, n, "        ", true);
	bounce_buf_puts(&x->text, "\r\n");
}

static int
bounce_text_rcpt(struct bounce_ctx *x, const struct bounce_rcpt *r,
		 const char *status)
{
	char tmp[64], date[40];
	size_t n = bounce_clean_addr(x->addr, r->addr, x->utf8);

	bounce_buf_puts(&x->text, "\r\n<");
	bounce_buf_put(&x->text, x->addr, n);
	bounce_buf_puts(&x->text, ">\r\n");
	snprintf(tmp, sizeof(tmp), "%s, status %s",
		 bounce_action_str(r->action), status);
	bounce_text_item(x, "Result", tmp, strlen(tmp));
	if (r->remote_mta != NULL) {
		n = bounce_clean_name(x->addr, r->remote_mta,
				      strlen(r->remote_mta), BOUNCE_NAME_MAX);
		bounce_text_item(x, "Remote server", x->addr, n);
	}
	if (r->diag != NULL) {
		n = bounce_clean_text(x->diag, r->diag, r->diag_len);
		if (n > 0)
			bounce_text_item(x, "Reason", x->diag, n);
	}
	if (r->action == BOUNCE_ACTION_DELAYED && r->retry_until != 0) {
		if (bounce_date(date, r->retry_until) < 0)
			return -EINVAL;
		bounce_text_item(x, "Trying until", date, strlen(date));
	}
	return 0;
}

/* Part 1: the human-readable explanation. */
static int
bounce_part_text(struct bounce_ctx *x, char (*status)[16])
{
	char tmp[BOUNCE_NAME_MAX + 64];
	int rc;

	snprintf(tmp, sizeof(tmp), "This is the mail delivery system at %s.",
		 x->host);
	bounce_para(&x->text, tmp);
	bounce_buf_puts(&x->text, "\r\n");
	bounce_para(&x->text, bounce_intros[x->in->kind]);
	bounce_text_attach(x);
	for (size_t i = 0; i < x->in->nrcpt; i++) {
		rc = bounce_text_rcpt(x, &x->in->rcpts[i], status[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* "Name: type; value" into part 2, value cleaned as an address. */
static void
bounce_status_addr(struct bounce_ctx *x, const char *name, const char *type,
		   const char *addr)
{
	struct bounce_buf *b = &x->status;
	size_t n = bounce_clean_addr(x->addr, addr, x->utf8);
	size_t col = strlen(name) + 2;

	if (type == NULL)
		type = bounce_has_8bit(x->addr, n) ? "utf-8" : "rfc822";
	bounce_buf_puts(b, name);
	bounce_buf_puts(b, ": ");
	bounce_wrap(b, &col, type, strlen(type), NULL, false);
	bounce_wrap(b, &col, "; ", 2, NULL, false);
	bounce_wrap(b, &col, x->addr, n, NULL, false);
	bounce_buf_puts(b, "\r\n");
}

/* Original-Recipient from an ORCPT "type;addr". */
static void
bounce_status_orcpt(struct bounce_ctx *x, const char *orcpt)
{
	const char *semi = strchr(orcpt, ';');
	char type[33];

	if (semi == NULL || semi == orcpt) {
		bounce_status_addr(x, "Original-Recipient", "rfc822",
				   semi ? semi + 1 : orcpt);
		return;
	}
	bounce_clean_name(type, orcpt, (size_t)(semi - orcpt), 32);
	bounce_status_addr(x, "Original-Recipient", type, semi + 1);
}

static int
bounce_status_rcpt(struct bounce_ctx *x, const struct bounce_rcpt *r,
		   const char *status)
{
	struct bounce_buf *b = &x->status;
	char name[BOUNCE_NAME_MAX + 1], date[40];
	size_t n;

	bounce_buf_puts(b, "\r\n");
	if (r->orcpt != NULL)
		bounce_status_orcpt(x, r->orcpt);
	bounce_status_addr(x, "Final-Recipient", NULL, r->addr);
	bounce_buf_printf(b, "Action: %s\r\n", bounce_action_str(r->action));
	bounce_buf_printf(b, "Status: %s\r\n", status);
	if (r->remote_mta != NULL) {
		n = bounce_clean_name(name, r->remote_mta,
				      strlen(r->remote_mta), BOUNCE_NAME_MAX);
		bounce_buf_puts(b, "Remote-MTA: dns; ");
		bounce_buf_put(b, name, n);
		bounce_buf_puts(b, "\r\n");
	}
	if (r->diag != NULL) {
		n = bounce_clean_text(x->diag, r->diag, r->diag_len);
		bounce_clean_name(name, r->diag_type ? r->diag_type : "smtp",
				  strlen(r->diag_type ? r->diag_type : "smtp"),
				  32);
		bounce_buf_printf(b, "Diagnostic-Code: %s;", name);
		if (n > 0) {
			size_t col =
			    strlen("Diagnostic-Code: ;") + strlen(name);

			bounce_wrap(b, &col, " ", 1, NULL, true);
			bounce_wrap(b, &col, x->diag, n, NULL, true);
		}
		bounce_buf_puts(b, "\r\n");
	}
	if (r->last_attempt != 0) {
		if (bounce_date(date, r->last_attempt) < 0)
			return -EINVAL;
		bounce_buf_printf(b, "Last-Attempt-Date: %s\r\n", date);
	}
	if (r->action == BOUNCE_ACTION_DELAYED && r->retry_until != 0) {
		if (bounce_date(date, r->retry_until) < 0)
			return -EINVAL;
		bounce_buf_printf(b, "Will-Retry-Until: %s\r\n", date);
	}
	return 0;
}

/* Part 2: message/delivery-status. */
static int
bounce_part_status(struct bounce_ctx *x, char (*status)[16])
{
	const struct bounce_in *in = x->in;
	struct bounce_buf *b = &x->status;
	char tmp[BOUNCE_NAME_MAX + 1], date[40];
	size_t n;
	int rc;

	if (in->envid != NULL) {
		n = bounce_clean_text(x->diag, in->envid, strlen(in->envid));
		bounce_field(b, "Original-Envelope-Id", x->diag,
			     MIN(n, BOUNCE_ENVID_MAX), true);
	}
	bounce_buf_printf(b, "Reporting-MTA: dns; %s\r\n", x->host);
	if (in->arrival != 0) {
		if (bounce_date(date, in->arrival) < 0)
			return -EINVAL;
		bounce_buf_printf(b, "Arrival-Date: %s\r\n", date);
	}
	if (in->queue_id != NULL) {
		n = bounce_clean_name(tmp, in->queue_id, strlen(in->queue_id),
				      64);
		bounce_buf_printf(b, "X-Ringmta-Queue-ID: %s\r\n", tmp);
	}
	for (size_t i = 0; i < in->nrcpt; i++) {
		rc = bounce_status_rcpt(x, &in->rcpts[i], status[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- assembly ---------------------------------------------------------- */

/* Case-insensitive search for needle in hay. */
static bool
bounce_contains(const char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle);

	for (size_t i = 0; m <= n && i <= n - m; i++)
		if (strncasecmp(hay + i, needle, m) == 0)
			return true;
	return false;
}

/* Draw boundaries until one occurs in no part; -EEXIST if none does. */
static int
bounce_pick_boundary(struct bounce_ctx *x, struct bounce_rng *rng,
		     char *boundary, size_t size)
{
	for (int t = 0; t < BOUNCE_BOUNDARY_TRIES; t++) {
		uint64_t a = bounce_rng_next(rng), c = bounce_rng_next(rng);

		snprintf(boundary, size, "=_rm_%016llx%016llx",
			 (unsigned long long)a, (unsigned long long)c);
		if (!bounce_contains(x->text.p, x->text.len, boundary) &&
		    !bounce_contains(x->status.p, x->status.len, boundary) &&
		    !bounce_contains(x->orig.c.p, x->orig.c.len, boundary))
			return 0;
	}
	return -EEXIST;
}

/*
 * CRLF "--boundary" CRLF, the part header, an empty line, the body.  Our
 * own text lends its last CRLF to the next delimiter; an original keeps it
 * (the delimiter brings its own), so it is returned byte for byte.
 */
static void
bounce_put_part(struct bounce_buf *b, const char *boundary, const char *hdr,
		const struct bounce_buf *body, bool keep)
{
	size_t n = body->len;

	if (!keep && n >= 2 && body->p[n - 2] == '\r' && body->p[n - 1] == '\n')
		n -= 2;
	bounce_buf_printf(b, "\r\n--%s\r\n", boundary);
	bounce_buf_puts(b, hdr);
	bounce_buf_puts(b, "\r\n");
	bounce_buf_put(b, body->p, n);
}

/* Part 3's header into buf[size], and the out flags it implies. */
static void
bounce_orig_hdr(struct bounce_ctx *x, unsigned *flags, char *buf, size_t size)
{
	const struct bounce_orig *o = &x->orig;
	bool global = x->utf8 && o->hdr8;
	bool eight = o->hdr8 || (o->full && o->body8);
	const char *type =
	    o->full ? (global ? "message/global" : "message/rfc822")
		    : (global ? "text/global-headers" : "text/rfc822-headers");

	*flags |=
	    (global ? BOUNCE_OUT_SMTPUTF8 : 0) | (eight ? BOUNCE_OUT_8BIT : 0);
	snprintf(buf, size, "Content-Description: %s\r\nContent-Type: %s\r\n%s",
		 o->full ? "Undelivered message" : "Message headers", type,
		 eight ? "Content-Transfer-Encoding: 8bit\r\n" : "");
}

/* The DSN's own header section. */
static void
bounce_put_header(struct bounce_ctx *x, struct bounce_out *out,
		  struct bounce_buf *b)
{
	size_t n = bounce_clean_addr(x->addr, x->in->sender, x->utf8);

	bounce_buf_printf(
	    b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", x->host);
	bounce_buf_puts(b, "To: <");
	bounce_buf_put(b, x->addr, n);
	bounce_buf_puts(b, ">\r\n");
	if (bounce_has_8bit(x->addr, n))
		out->flags |= BOUNCE_OUT_SMTPUTF8 | BOUNCE_OUT_8BIT;
	bounce_buf_printf(b, "Subject: %s\r\n", bounce_subjects[x->in->kind]);
	bounce_buf_printf(b, "Date: %s\r\n", x->date);
	bounce_buf_printf(b, "Message-ID: <%s>\r\n", out->message_id);
	bounce_buf_puts(b, "MIME-Version: 1.0\r\n");
	bounce_buf_puts(b, "Auto-Submitted: auto-replied\r\n");
	bounce_buf_puts(b, "Content-Type: multipart/report; "
			   "report-type=delivery-status;\r\n");
	bounce_buf_printf(b, "\tboundary=\"%s\"\r\n", out->boundary);
}

/* Put the header, the three parts and the close delimiter into b. */
static void
bounce_assemble(struct bounce_ctx *x, struct bounce_out *out,
		struct bounce_buf *b)
{
	bool text8 = bounce_has_8bit(x->text.p, x->text.len);
	bool status8 = bounce_has_8bit(x->status.p, x->status.len);
	char ohdr[160];

	if (x->orig.c.len > 0)
		bounce_orig_hdr(x, &out->flags, ohdr, sizeof(ohdr));
	if (text8 || status8)
		out->flags |= BOUNCE_OUT_SMTPUTF8 | BOUNCE_OUT_8BIT;
	bounce_put_header(x, out, b);
	bounce_buf_puts(b, out->flags & BOUNCE_OUT_8BIT
			       ? "Content-Transfer-Encoding: 8bit\r\n"
			       : "Content-Transfer-Encoding: 7bit\r\n");
	bounce_buf_puts(b, "\r\nThis is a MIME-encapsulated message.\r\n");
	bounce_put_part(b, out->boundary,
			text8
			    ? "Content-Description: Notification\r\n"
			      "Content-Type: text/plain; charset=utf-8\r\n"
			      "Content-Transfer-Encoding: 8bit\r\n"
			    : "Content-Description: Notification\r\n"
			      "Content-Type: text/plain; charset=us-ascii\r\n",
			&x->text, false);
	bounce_put_part(b, out->boundary,
			status8 ? "Content-Description: Delivery report\r\n"
				  "Content-Type: "
				  "message/global-delivery-status\r\n"
				  "Content-Transfer-Encoding: 8bit\r\n"
				: "Content-Description: Delivery report\r\n"
				  "Content-Type: message/delivery-status\r\n",
			&x->status, false);
	if (x->orig.c.len > 0)
		bounce_put_part(b, out->boundary, ohdr, &x->orig.c, true);
	bounce_buf_printf(b, "\r\n--%s--\r\n", out->boundary);
}

/* Checks and cleaning of the per-message inputs into x. */
static int
bounce_prepare(const struct bounce_in *in, struct bounce_ctx *x)
{
	if (in->reporting_mta == NULL || in->reporting_mta[0] == '\0' ||
	    in->sender == NULL || in->sender[0] == '\0' ||
	    (in->flags & BOUNCE_F_IS_DSN) || in->rcpts == NULL ||
	    in->nrcpt == 0 || (unsigned)in->kind >= BOUNCE_KIND__COUNT ||
	    (unsigned)in->ret >= BOUNCE_RET__COUNT)
		return -EINVAL;
	for (size_t i = 0; i < in->nrcpt; i++)
		if (in->rcpts[i].addr == NULL ||
		    (unsigned)in->rcpts[i].action >= BOUNCE_ACTION__COUNT)
			return -EINVAL;
	x->in = in;
	x->utf8 = (in->flags & BOUNCE_F_SMTPUTF8) != 0;
	bounce_clean_name(x->host, in->reporting_mta, strlen(in->reporting_mta),
			  BOUNCE_NAME_MAX);
	return bounce_date(x->date, in->now);
}

static void
bounce_ctx_fini(struct bounce_ctx *x)
{
	bounce_buf_free(&x->text);
	bounce_buf_free(&x->status);
	bounce_buf_free(&x->orig.c);
	free(x);
}

/* Our Message-ID, drawn first so it does not depend on boundary retries. */
static void
bounce_message_id(struct bounce_ctx *x, struct bounce_rng *rng,
		  struct bounce_out *out)
{
	const char *dom = x->in->msgid_domain && x->in->msgid_domain[0]
			      ? x->in->msgid_domain
			      : x->in->reporting_mta;
	char name[BOUNCE_NAME_MAX + 1];
	struct tm tm;
	time_t t = (time_t)x->in->now;

	bounce_clean_name(name, dom, strlen(dom), BOUNCE_NAME_MAX);
	gmtime_r(&t, &tm);
	snprintf(out->message_id, sizeof(out->message_id),
		 "%04d%02d%02d%02d%02d%02d.%016llx@%s", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned long long)bounce_rng_next(rng), name);
}

/*
 * See bounce.h.  The parts are built first, then a boundary is drawn that
 * none of them contains, then the message is assembled.
 */
int
bounce_build(const struct bounce_in *in, struct bounce_out *out)
{
	struct bounce_ctx *x = xcalloc(1, sizeof(*x));
	char(*status)[16] = NULL;
	struct bounce_buf b = {0};
	struct bounce_rng rng;
	int rc;

	*out = (struct bounce_out){0};
	rc = bounce_prepare(in, x);
	if (rc < 0)
		goto done;
	status = xreallocarray(NULL, in->nrcpt, sizeof(*status));
	for (size_t i = 0; i < in->nrcpt; i++)
		bounce_status(status[i], in->rcpts[i].status,
			      in->rcpts[i].action);
	rc = bounce_orig_load(in, &x->orig);
	if (rc >= 0)
		rc = bounce_part_text(x, status);
	if (rc >= 0)
		rc = bounce_part_status(x, status);
	if (rc < 0)
		goto done;
	bounce_rng_init(&rng, in->seed, in->seed ? in->seed_len : 0);
	bounce_message_id(x, &rng, out);
	rc =
	    bounce_pick_boundary(x, &rng, out->boundary, sizeof(out->boundary));
	if (rc < 0)
		goto done;
	if (x->orig.c.len == 0)
		out->flags |= BOUNCE_OUT_NO_ORIG;
	else if (!x->orig.full)
		out->flags |= BOUNCE_OUT_HDRS_ONLY |
			      (x->orig.too_big ? BOUNCE_OUT_TOO_BIG : 0) |
			      (x->orig.hdr_cut ? BOUNCE_OUT_HDRS_CUT : 0);
	bounce_assemble(x, out, &b);
	bounce_buf_putc(&b, '\0');
	out->msg = b.p;
	b.len--;
	out->len = b.len;
	out->env_sender = xstrdup("");
	out->env_rcpt = xstrdup(in->sender);
done:
	if (rc < 0)
		*out = (struct bounce_out){0};
	free(status);
	bounce_ctx_fini(x);
	return rc;
}

/* See bounce.h. */
