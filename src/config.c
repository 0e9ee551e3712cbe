/* SPDX-License-Identifier: MIT */
/*
 * config.c: INI text -> immutable struct config.
 *
 * libinih splits "key = value" lines and strips comments; our line reader
 * in front of it counts lines, handles section headers itself (inih keeps
 * no line number and truncates long section names), and rejects overlong
 * lines, NUL and control bytes, and malformed lines, so every error is
 * collected with its line.  Keys are described by the tables of
 * config_keys.c; values are parsed by value.c.  After the parse,
 * config_check.c resolves derived defaults, [delivery] -> [domain
 * default] -> [domain NAME] inheritance and cross-key checks once, through
 * the struct config_parse of config_int.h.  config_dump.c writes a config
 * back and looks things up in it.  Must not touch the network or the files
 * the keys name; logs only the unsafe-sync warning.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_int.h"
#include "log.h"

static void
config_err_push(struct config_err_list *l, char *msg)
{
	if (l->n == 0 || (l->n >= 8 && (l->n & (l->n - 1)) == 0))
		l->v = xreallocarray(l->v, l->n == 0 ? 8 : 2 * l->n,
				     sizeof(*l->v));
	l->v[l->n++] = msg;
}

/* See config_int.h. */
void
config_err(struct config_parse *p, uint32_t line, const char *fmt, ...)
{
	char reason[512], *msg;
	va_list ap;
	size_t n;

	p->nerrs++;
	if (p->errs->n >= CONFIG_ERR_MAX) {
		p->errs->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	n = strlen(p->name) + sizeof(reason) + 16;
	msg = xmalloc(n);
	if (line > 0)
		snprintf(msg, n, "%s:%u: %s", p->name, line, reason);
	else
		snprintf(msg, n, "%s: %s", p->name, reason);
	for (char *c = msg; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
	p->err_line[p->errs->n - p->err0] = line;
	config_err_push(p->errs, msg);
}

/* Put this load's errors in line order (stable: insertion sort). */
static void
config_err_sort(struct config_parse *p)
{
	char **v = p->errs->v + p->err0;
	size_t n = p->errs->n - p->err0;

	for (size_t i = 1; i < n; i++) {
		uint32_t l = p->err_line[i];
		char *m = v[i];
		size_t j = i;

		for (; j > 0 && p->err_line[j - 1] > l; j--) {
			p->err_line[j] = p->err_line[j - 1];
			v[j] = v[j - 1];
		}
		p->err_line[j] = l;
		v[j] = m;
	}
}

/* See config_int.h. */
void *
config_own(struct config *cfg, void *p)
{
	size_t n = cfg->nowned;

	if (n == 0 || (n >= 8 && (n & (n - 1)) == 0))
		cfg->owned = xreallocarray(cfg->owned, n == 0 ? 8 : 2 * n,
					   sizeof(void *));
	cfg->owned[cfg->nowned++] = p;
	return p;
}

/* See config_int.h. */
const char *
config_strdup(struct config *cfg, const char *s)
{
	return config_own(cfg, xstrdup(s));
}

/* See config_int.h. */
void *
config_grow(void *v, size_t n, size_t sz)
{
	if (n == 0)
		return xreallocarray(NULL, 8, sz);
	if (n >= 8 && (n & (n - 1)) == 0)
		return xreallocarray(v, 2 * n, sz);
	return v;
}

static void
config_unknown_key(struct config_parse *p, const char *name)
{
	const struct config_section_def *d = &config_sections[p->sec];
	const char *cands[2 * CONFIG_META_KEYS];
	char where[256] = "", sug[96];
	size_t n = 0, o = 0;
	int t;

	for (int s = 0; s < CONFIG_SEC__COUNT; s++)
		if (s != p->sec && config_find_key(s, name, true, &t) != NULL)
			o += (size_t)snprintf(where + o, sizeof(where) - o,
					      "%s%s", o ? " or " : "",
					      config_sections[s].usage);
	if (o > 0) {
		config_err(p, p->line,
			   "key '%s' does not belong in %s (it goes "
			   "in %s)",
			   name, p->label, where);
		return;
	}
	for (t = 0; t < 2; t++)
		for (size_t i = 0; i < d->nkeys[t]; i++)
			cands[n++] =
			    d->keys[t][i].flags & CONFIG_KF_DOMAIN_ONLY &&
				    p->sec != CONFIG_SEC_DOMAIN
				? NULL
				: d->keys[t][i].name;
	config_suggest(name, cands, n, "'", "'", sug, sizeof(sug));
	config_err(p, p->line, "unknown key '%s' in %s%s", name, p->label, sug);
}

/* inih handler: one "key = value" of the current section. */
static int
config_on_kv(void *user, const char *section, const char *name,
	     const char *value)
{
	struct config_parse *p = user;
	const struct config_key *k;
	char why[VALUE_WHY_MAX];
	struct config_meta *m;
	size_t idx;
	int t;

	(void)section; /* always "": the reader handles sections */
	if (value == NULL)
		value = "";
	if (p->ignore)
		return 1;
	if (p->sec < 0) {
		config_err(p, p->line, "key '%s' outside of any section", name);
		return 1;
	}
	k = config_find_key(p->sec, name, p->sec == CONFIG_SEC_DOMAIN, &t);
	if (k == NULL) {
		config_unknown_key(p, name);
		return 1;
	}
	m = p->meta[t];
	idx = (size_t)(k - config_sections[p->sec].keys[t]);
	if (m->set & (1ull << idx)) {
		config_err(p, p->line,
			   "duplicate key '%s' in %s (first set on line %u)",
			   name, p->label, m->key_line[idx]);
		return 1;
	}
	m->set |= 1ull << idx;
	m->key_line[idx] = p->line;
	if (config_parse_value(p->cfg, k, p->base[t], value, why, sizeof(why)) <
	    0)
		config_err(p, p->line, "%s %s: %s", p->label, name, why);
	return 1;
}

static void
config_target(struct config_parse *p, void *base, struct config_meta *meta)
{
	p->base[0] = base;
	p->meta[0] = meta;
	p->base[1] = NULL;
	p->meta[1] = NULL;
	if (meta->line != 0)
		config_err(p, p->line,
			   "duplicate section %s (first on line %u)", p->label,
			   meta->line);
	else
		meta->line = p->line;
}

static void
config_begin_named(struct config_parse *p, const char *arg)
{
	struct config *cfg = p->cfg;
	char why[VALUE_WHY_MAX], dom[VALUE_HOST_MAX + 1];
	struct config_binding *b = &p->scratch_bnd;
	struct domain_policy *d = &p->scratch_pol;

	if (p->sec == CONFIG_SEC_BINDING) {
		snprintf(p->label, sizeof(p->label), "[binding %s]", arg);
		memset(b, 0, sizeof(*b));
		if (value_token(arg, CONFIG_TOKEN_MAX, why, sizeof(why)) < 0) {
			config_err(p, p->line, "%s: %s", p->label, why);
		} else {
			cfg->bindings = config_grow(cfg->bindings,
						    cfg->nbindings, sizeof(*b));
			b = &cfg->bindings[cfg->nbindings++];
			memset(b, 0, sizeof(*b));
			b->name = config_strdup(cfg, arg);
		}
		config_target(p, b, &b->meta);
		return;
	}
	if (value_domain(arg, dom, sizeof(dom), why, sizeof(why)) < 0) {
		snprintf(p->label, sizeof(p->label), "[domain %s]", arg);
		config_err(p, p->line, "%s: %s", p->label, why);
		memset(d, 0, sizeof(*d));
	} else if (strcmp(dom, "default") == 0) {
		d = &cfg->domain_default;
	} else {
		cfg->domains =
		    config_grow(cfg->domains, cfg->ndomains, sizeof(*d));
		d = &cfg->domains[cfg->ndomains++];
		memset(d, 0, sizeof(*d));
		d->name = config_strdup(cfg, dom);
	}
	if (d != &p->scratch_pol)
		snprintf(p->label, sizeof(p->label), "[domain %s]", dom);
	config_target(p, d, &d->meta);
}

/* A "[...]" header: text is what is between the brackets. */
static void
config_begin(struct config_parse *p, char *text)
{
	struct config *cfg = p->cfg;
	const char *names[CONFIG_SEC__COUNT];
	char *arg, sug[96];
	size_t tl;

	p->ignore = true;
	p->sec = -1;
	text += strspn(text, " \t");
	tl = strcspn(text, " \t");
	arg = text + tl + strspn(text + tl, " \t");
	for (size_t n = strlen(arg); n > 0 && strchr(" \t", arg[n - 1]); n--)
		arg[n - 1] = '\0';
	text[tl] = '\0';
	for (int s = 0; s < CONFIG_SEC__COUNT; s++) {
		names[s] = config_sections[s].name;
		if (strcmp(text, names[s]) == 0)
			p->sec = s;
	}
	if (p->sec < 0) {
		config_suggest(text, names, CONFIG_SEC__COUNT, "[", "]", sug,
			       sizeof(sug));
		config_err(p, p->line, "unknown section [%s]%s", text, sug);
		return;
	}
	if (config_sections[p->sec].named != (*arg != '\0')) {
		config_err(p, p->line, "section [%s] %s; expected %s", text,
			   *arg ? "takes no name" : "needs a name",
			   config_sections[p->sec].usage);
		p->sec = -1;
		return;
	}
	p->ignore = false;
	snprintf(p->label, sizeof(p->label), "[%s]", text);
	switch ((enum config_sec)p->sec) {
	case CONFIG_SEC_SERVER:
		return config_target(p, &cfg->server, &cfg->server.meta);
	case CONFIG_SEC_LISTENER:
		return config_target(p, &cfg->listener, &cfg->listener.meta);
	case CONFIG_SEC_SPOOL:
		return config_target(p, &cfg->spool, &cfg->spool.meta);
	case CONFIG_SEC_REDIS:
		return config_target(p, &cfg->redis, &cfg->redis.meta);
	case CONFIG_SEC_DNS:
		return config_target(p, &cfg->dns, &cfg->dns.meta);
	case CONFIG_SEC_TLS:
		return config_target(p, &cfg->tls, &cfg->tls.meta);
	case CONFIG_SEC_DELIVERY:
		config_target(p, &cfg->delivery.policy,
			      &cfg->delivery.policy.meta);
		p->base[1] = &cfg->delivery;
		p->meta[1] = &cfg->delivery.meta;
		cfg->delivery.meta.line = cfg->delivery.policy.meta.line;
		return;
	case CONFIG_SEC_BINDING:
	case CONFIG_SEC_DOMAIN:
		return config_begin_named(p, arg);
	case CONFIG_SEC__COUNT:
		break;
	}
	BUG_ON(1);
}

/* Classify one line (n bytes, no EOL); copy key lines to out for inih. */
static void
config_line(struct config_parse *p, const char *ln, size_t n, char *out,
	    size_t outlen)
{
	char tmp[CONFIG_LINE_MAX + 1];
	size_t i = 0, eq, ne;

	if (n + 3 > outlen || n >= sizeof(tmp)) {
		config_err(p, p->line,
			   "line too long (%zu bytes; the limit is "
			   "%zu)",
			   n, MIN(outlen - 3, sizeof(tmp) - 1));
		return;
	}
	for (size_t j = 0; j < n; j++) {
		unsigned char c = (unsigned char)ln[j];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			config_err(p, p->line,
				   "control character 0x%02x in "
				   "line",
				   c);
			return;
		}
	}
	while (i < n && (ln[i] == ' ' || ln[i] == '\t'))
		i++;
	if (i == n || ln[i] == ';' || ln[i] == '#')
		return;
	memcpy(tmp, ln + i, n - i);
	tmp[n - i] = '\0';
	if (tmp[0] == '[') {
		char *end = strchr(tmp, ']');
		const char *rest =
		    end != NULL ? end + 1 + strspn(end + 1, " \t") : "";

		if (end == NULL ||
		    (*rest != '\0' && *rest != ';' && *rest != '#')) {
			config_err(p, p->line, "%s in section header",
				   end == NULL ? "missing ']'"
					       : "junk after ']'");
			p->ignore = true;
			p->sec = -1;
			return;
		}
		*end = '\0';
		config_begin(p, tmp + 1);
		return;
	}
	eq = strcspn(tmp, "=");
	for (ne = eq; ne > 0 && (tmp[ne - 1] == ' ' || tmp[ne - 1] == '\t');)
		ne--;
	if (tmp[eq] == '\0' || ne == 0) {
		config_err(p, p->line,
			   "expected 'key = value', '[section]' "
			   "or a comment");
		return;
	}
	if (tmp[eq + 1] == ';') {
		/* inih would keep ";x" in "k =;x" but drop it in "k = ;x". */
		config_err(p, p->line, "a value cannot start with ';'");
		return;
	}
	tmp[ne] = '\0';
	if (ne > CONFIG_KEY_MAX ||
	    strspn(tmp, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789_.-") != ne) {
		config_err(p, p->line, "bad key name '%.*s'", CONFIG_KEY_MAX,
			   tmp);
		return;
	}
	memcpy(out, ln + i, n - i);
	memcpy(out + n - i, "\n", 2);
}

/* inih reader: hands over one physical line per call, counting lines. */
static char *
config_reader(char *str, int num, void *stream)
{
	struct config_parse *p = stream;
	const char *ln = p->buf + p->pos, *nl;
	size_t n;

	if (p->pos >= p->len)
		return NULL;
	nl = memchr(ln, '\n', p->len - p->pos);
	n = nl != NULL ? (size_t)(nl - ln) : p->len - p->pos;
	p->pos += n + (nl != NULL);
	p->line++;
	if (n > 0 && ln[n - 1] == '\r')
		n--;
	if (p->line == 1 && n >= 3 && memcmp(ln, "\xef\xbb\xbf", 3) == 0) {
		ln += 3;
		n -= 3;
	}
	memcpy(str, "\n", 2);
	config_line(p, ln, n, str, num > 0 ? (size_t)num : 0);
	return str;
}

/* See config.h. */
void
config_err_list_init(struct config_err_list *l)
{
	memset(l, 0, sizeof(*l));
}

/* See config.h. */
void
config_err_list_fini(struct config_err_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* See config.h. */
int
config_load_buf(const char *name, const char *buf, size_t len,
		struct config **cfg_r, struct config_err_list *errs)
{
	struct config_parse *p = xcalloc(1, sizeof(*p));
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	size_t nerrs, dropped = errs->dropped;
	char more[64];
	int rc;

	*cfg_r = NULL;
	cfg->name = config_strdup(cfg, name);
	p->cfg = cfg;
	p->errs = errs;
	p->name = cfg->name;
	p->buf = buf;
	p->len = len;
	p->sec = -1;
	p->err0 = errs->n;
	config_defaults(cfg);
	/* libinih's line buffer: Debian builds it with runtime settings and
	 * a 200-byte stack buffer by default; a heap buffer of our size lets
	 * a line hold a 253-byte host name or a long list (config_line
	 * still refuses longer ones by name and line). */
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_max_line = CONFIG_LINE_MAX + 3;
	ini_initial_alloc = CONFIG_LINE_MAX + 3;
	rc = ini_parse_stream(config_reader, p, config_on_kv, p);
	if (rc != 0 && p->nerrs == 0)
		config_err(p, rc > 0 ? (uint32_t)rc : 0, "%s",
			   rc == -2 ? "out of memory" : "syntax error");
	config_finish(p);
	config_err_sort(p);
	nerrs = p->nerrs;
	free(p);
	if (errs->dropped > dropped) {
		snprintf(more, sizeof(more), ": %zu more errors not shown",
			 errs->dropped - dropped);
		config_err_push(errs, xmalloc(strlen(name) + sizeof(more)));
		snprintf(errs->v[errs->n - 1], strlen(name) + sizeof(more),
			 "%s%s", name, more);
	}
	if (nerrs > 0) {
		config_free(cfg);
		return -EINVAL;
	}
	if (!cfg->spool.sync)
		log_warn(
		    "%s: [spool] sync = no: accepted mail can be lost on a "
		    "crash or power failure",
		    name);
	*cfg_r = cfg;
	return 0;
}

/* See config.h. */
int
config_load_string(const char *name, const char *text, struct config **cfg_r,
		   struct config_err_list *errs)
{
	return config_load_buf(name, text, strlen(text), cfg_r, errs);
}

static int
config_read_file(const char *path, char **buf_r, size_t *len_r,
		 const char **what_r)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	ssize_t n;
	int fd, err = 0;

	*what_r = "cannot open";
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	*what_r = "cannot read";
	if (fstat(fd, &st) == -1) {
		err = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		*what_r = "not a regular file";
		err = -EINVAL;
	} else if ((uint64_t)st.st_size > CONFIG_FILE_MAX) {
		*what_r = "file too large";
		err = -EFBIG;
	}
	buf = xmalloc(err == 0 ? (size_t)st.st_size + 1 : 1);
	while (err == 0 && got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n == 0 ? -EIO : -errno;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (err < 0) {
		free(buf);
		return err;
	}
	*buf_r = buf;
	*len_r = got;
	return 0;
}

/* See config.h. */
int
config_load(const char *path, struct config **cfg_r,
	    struct config_err_list *errs)
{
	const char *what;
	size_t len = 0, n;
	char *buf = NULL, *msg;
	int err;

	*cfg_r = NULL;
	err = config_read_file(path, &buf, &len, &what);
	if (err < 0) {
		n = strlen(path) + strlen(what) + 128;
		msg = xmalloc(n);
		snprintf(msg, n, "%s: %s: %s", path, what, strerror(-err));
		config_err_push(errs, msg);
		return err;
	}
	err = config_load_buf(path, buf, len, cfg_r, errs);
	free(buf);
	return err;
}

/* See config.h. */
struct config *
config_default(void)
{
	struct config_err_list errs;
	struct config *cfg;

	config_err_list_init(&errs);
	BUG_ON(config_load_buf("(built-in defaults)", "", 0, &cfg, &errs) < 0);
	config_err_list_fini(&errs);
	return cfg;
}

/* See config.h. */
void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->nowned; i++)
		free(cfg->owned[i]);
	free(cfg->owned);
	free(cfg->domains);
	free(cfg->bindings);
	free(cfg);
}
