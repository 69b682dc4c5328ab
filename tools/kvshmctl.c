// SPDX-License-Identifier: MIT
/*
 * kvshmctl.c - the kvshm admin and scripting command line tool.
 *
 * kvshmctl [--name NAME] [--timeout MS] COMMAND [ARGS] attaches to the cache
 * served under NAME, runs one command (ping, info, stats, get, mget, set,
 * mset, getset, append, strlen, del, mdel, getdel, ttl, expire, persist,
 * incr, keys, scan, flush, cas, casdel, batch, config, clients, and the
 * persistence commands of persistctl.c) and detaches. stats --prometheus
 * is prometheus.c's. It is an ordinary client: it must
 * never hold knowledge of the shared-memory layout or of the write
 * channel's protocol, and uses nothing but the public API of <kvshm.h>.
 *
 * Keys and values are written as raw bytes, each followed by a newline, or
 * with --escape as C-style escaped text (the syntax batch reads back).
 * A VALUE argument may instead come from a file (--file F) or standard
 * input ("-" or --stdin), byte for byte.
 * scan walks the keys with kvshm_scan(): without --limit it follows the
 * cursor to the end and prints every key; with --limit N it makes exactly
 * one call from --cursor and ends with a line "cursor NEXT" (0 when the
 * walk is complete) for a script to pass back, like Redis SCAN.
 *
 * Exit status, as scripts rely on it: 0 success; 1 the operation failed,
 * with exactly one line "kvshmctl: COMMAND: MESSAGE" on stderr (MESSAGE is
 * kvshm_strerror() of the code); 2 usage error, with one line that also
 * points at --help. Everything is checked before attaching, so a usage error
 * never touches the daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvshm.h>

#include "persistctl.h"
#include "prometheus.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

#define PROG		"kvshmctl"
#define EXIT_FAIL	1	/* the operation failed */
#define EXIT_USAGE	2	/* bad command line */

/* Long-only options get values outside the char range. */
enum {
	OPT_NAME = 256,
	OPT_TIMEOUT,
	OPT_TTL,
	OPT_NX,
	OPT_XX,
	OPT_JSON,
	OPT_PREFIX,
	OPT_PATTERN,
	OPT_MIN,
	OPT_MAX,
	OPT_LIMIT,
	OPT_CURSOR,
	OPT_SORTED,
	OPT_HELP,
	OPT_META,
	OPT_STDIN,
	OPT_RANGE,
	OPT_PROMETHEUS,
};

/* Which command options a command accepts (struct command.opts). */
enum {
	CO_TTL		= 1 << 0,
	CO_NX		= 1 << 1,
	CO_XX		= 1 << 2,
	CO_JSON		= 1 << 3,
	CO_PREFIX	= 1 << 4,
	CO_PATTERN	= 1 << 5,
	CO_MIN		= 1 << 6,
	CO_MAX		= 1 << 7,
	CO_LIMIT	= 1 << 8,
	CO_CURSOR	= 1 << 9,
	CO_SORTED	= 1 << 10,
	CO_META		= 1 << 11,
	CO_ESCAPE	= 1 << 12,
	CO_FILE		= 1 << 13,	/* --file */
	CO_STDIN	= 1 << 14,	/* --stdin */
	CO_RANGE	= 1 << 15,
	CO_PROMETHEUS	= 1 << 16,
};

/* The option behind each CO_* bit, lowest first, for error messages. */
static const char *const co_names[] = {
	"ttl", "nx", "xx", "json", "prefix", "pattern", "min", "max",
	"limit", "cursor", "sorted", "meta", "escape", "file", "stdin", "range",
	"prometheus",
};

/* The largest --limit: what fits both int64_t and size_t. */
#if SIZE_MAX < INT64_MAX
#define LIMIT_MAX	((int64_t)SIZE_MAX)
#else
#define LIMIT_MAX	INT64_MAX
#endif

/* The parsed command line; strings point into argv. */
struct args {
	const char *cmd;
	const char **pos;	/* positional arguments (argc slots) */
	int npos;
	int64_t num;		/* the numeric argument of expire, incr */
	int64_t ttl_ms;		/* set --ttl, 0 = no expiry */
	unsigned int set_flags;	/* KVSHM_NX or KVSHM_XX */
	const char *name;	/* --name */
	bool json;		/* stats, clients --json */
	bool prometheus;	/* stats --prometheus */
	struct kvshm_scan_opts scan;	/* scan filters and --limit */
	uint64_t cursor;	/* scan --cursor, 0 = from the start */
	bool sorted;		/* scan --sorted */
	bool meta;		/* get --meta */
	bool escape;		/* --escape: C-style escaped output */
	const char *file;	/* --file F: the value (batch: the ops) */
	bool from_stdin;	/* --stdin or a VALUE of "-" */
	uint64_t version;	/* cas, casdel */
	const char *val;	/* the VALUE, from argv, a file or stdin */
	size_t vlen;
	char *val_buf;		/* malloc()ed when read from a file or stdin */
	struct kvshm_batch_op *ops;	/* batch: parsed ops, malloc()ed */
	size_t nops;
	size_t *op_line;	/* batch: each op's input line number */
};

struct command {
	const char *name;
	int min_args;
	int max_args;
	unsigned int opts;	/* CO_* accepted */
	const char *synopsis;	/* shown when arguments are missing */
	const char *num_name;	/* non-NULL: 2nd argument is a number */
	int (*run)(kvshm_t *c, const struct args *a);
};

static void usage(FILE *f)
{
	fputs("Usage: " PROG " [--name NAME] [--timeout MS] COMMAND [ARGS]\n"
	      "\n"
	      "Administer the kvshm cache served by kvshmd under NAME.\n"
	      "\n"
	      "Options:\n"
	      "  --name NAME     cache to attach to (default \"default\")\n"
	      "  --timeout MS    write/admin request timeout (default 5000)\n"
	      "  -h, --help      show this help and exit\n"
	      "  -V, --version   show the version and exit\n"
	      "\n"
	      "Commands:\n"
	      "  ping                print PONG if the daemon answers\n"
	      "  info                short human summary\n"
	      "  stats [--json|--prometheus]\n"
	      "                      every daemon counter, as \"name value\"\n"
	      "                      lines, one JSON object, or Prometheus\n"
	      "                      metrics (text format 0.0.4)\n"
	      "  clients [--json]    the processes attached to the daemon:\n"
	      "                      pid, uid, gid, reader slots, requests,\n"
	      "                      bytes in and out, seconds connected,\n"
	      "                      state (open, self, orphan)\n"
	      "  get KEY [--meta]    print the value; with --meta, first its\n"
	      "                      version, length, ttl_ms, expire_ms and\n"
	      "                      flags, one \"name value\" line each, then\n"
	      "                      \"value VALUE\"\n"
	      "  mget KEY [KEY]...   print each value on its own line, an empty\n"
	      "                      line for a missing key\n"
	      "  set KEY VALUE [--ttl MS] [--nx|--xx]\n"
	      "                      store VALUE, print OK\n"
	      "  mset KEY VALUE [KEY VALUE]... [--ttl MS]\n"
	      "                      store every pair or none, print OK\n"
	      "  getset KEY VALUE [--ttl MS]\n"
	      "                      store VALUE, print the old value,\n"
	      "                      nothing if there was none\n"
	      "  append KEY VALUE    append VALUE, print the new length\n"
	      "  strlen KEY          print the length of the value\n"
	      "  del KEY             delete KEY, print 1\n"
	      "  mdel KEY [KEY]...   delete the keys, print how many existed\n"
	      "  getdel KEY          delete KEY, print the value it had\n"
	      "  ttl KEY             milliseconds left, -1 if none\n"
	      "  expire KEY MS       expire KEY in MS (<= 0 deletes)\n"
	      "  persist KEY         remove KEY's expiry\n"
	      "  incr KEY [DELTA]    add DELTA (default 1), print it\n"
	      "  keys [PATTERN]      list keys matching a glob\n"
	      "  scan [--prefix P] [--pattern GLOB] [--min MIN] [--max MAX]\n"
	      "       [--limit N] [--cursor C] [--sorted]\n"
	      "                      list the keys passing every filter\n"
	      "                      (MIN <= key < MAX, bytewise); --sorted\n"
	      "                      sorts them; with --limit, one call from\n"
	      "                      cursor C (default 0) prints at most N\n"
	      "                      keys, then a line \"cursor NEXT\" to\n"
	      "                      resume from (0 = done)\n"
	      "  flush               delete every key, print how many\n"
	      "  cas KEY VERSION VALUE [--ttl MS]\n"
	      "                      store VALUE only if KEY has VERSION (0:\n"
	      "                      only if absent), print the new version\n"
	      "  casdel KEY VERSION  delete KEY only if it has VERSION, print 1\n"
	      "  batch [--file F]    apply the operations read from standard\n"
	      "                      input (or F), all or none, print OK; one\n"
	      "                      per line: put KEY VALUE [ttl=MS]\n"
	      "                      [nx|xx|ver=V], or del KEY [xx|ver=V]\n"
	      "  snapshot            have the daemon write a snapshot now,\n"
	      "                      print its LSN (waits up to 10 minutes\n"
	      "                      unless --timeout says otherwise)\n"
	      "  dump [FILE]         write every key, value and expiry to FILE\n"
	      "                      (or stdout) in the snapshot format\n"
	      "  restore FILE        store every unexpired key of a dump or\n"
	      "                      snapshot file\n"
	      "  check-wal DIR       verify the WAL segments in DIR (no daemon)\n"
	      "  check-snapshot FILE verify a snapshot or dump (no daemon)\n"
	      "  config get          print the daemon's settings\n"
	      "  config set KEY VALUE\n"
	      "                      change a setting of the running daemon\n"
	      "                      (eviction, eviction-samples,\n"
	      "                      eviction-watermark), print OK\n"
	      "\n"
	      "Command options:\n"
	      "  -f, --file F        read VALUE from file F (set, getset,\n"
	      "                      append, cas), byte for byte\n"
	      "  --stdin             read VALUE from standard input; so does\n"
	      "                      a VALUE of \"-\"\n"
	      "  -e, --escape        print keys and values as C-style escaped\n"
	      "                      text: \\\\ \\\" \\n \\r \\t \\xHH\n"
	      "  --range MIN..MAX    scan: --min MIN --max MAX in one option\n"
	      "\n"
	      "Exit status: 0 success, 1 operation failed, 2 usage error.\n",
	      f);
}

static void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* usage_error - one line on stderr with a hint, then exit 2. */
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try '" PROG " --help')\n", stderr);
	exit(EXIT_USAGE);
}

/*
 * fail - report a failed library call for @cmd and return EXIT_FAIL.
 * @err: errno as it was right after the call, shown for KVSHM_ESYS only.
 */
static int fail(const char *cmd, int rc, int err)
{
	if (rc == KVSHM_ESYS && err != 0)
		fprintf(stderr, PROG ": %s: %s: %s\n", cmd,
			kvshm_strerror(rc), strerror(err));
	else
		fprintf(stderr, PROG ": %s: %s\n", cmd, kvshm_strerror(rc));
	return EXIT_FAIL;
}

/*
 * parse_i64 - strict decimal: the whole string, no leading space, within
 * [@min, @max]. Return 0 or -1.
 */
static int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	long long v;
	char *end;

	if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '+'))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * parse_u64 - strict unsigned decimal: digits only, the whole string,
 * within uint64_t. Return 0 or -1.
 */
static int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!(*s >= '0' && *s <= '9'))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* is_negative_number - "-" and digits: an argument, not an option. */
static bool is_negative_number(const char *s)
{
	if (s[0] != '-' || s[1] == '\0')
		return false;
	for (s++; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void bad_option(const char *ctx, int opt, char **argv, int optidx)
	__attribute__((noreturn));

/* bad_option - usage error naming the option getopt_long() refused. */
static void bad_option(const char *ctx, int opt, char **argv, int optidx)
{
	const char *what = argv[optidx - 1];
	int len = (int)strcspn(what, "=");

	if (opt == ':')
		usage_error("%s%soption '%.*s' requires an argument",
			    ctx, *ctx ? ": " : "", len, what);
	if (optopt > 0 && optopt < 256)
		usage_error("%s%sunknown option '-%c'", ctx, *ctx ? ": " : "",
			    optopt);
	usage_error("%s%sunknown option '%.*s'", ctx, *ctx ? ": " : "",
		    len, what);
}

/* ---- stats text: "name value\n" lines ---- */

/*
 * next_stat - split the next "name value" line of *@p; advance *@p.
 * The value is everything after the first space (possibly empty).
 * Return false at the end of the text.
 */
static bool next_stat(const char **p, const char **name, size_t *nlen,
		      const char **val, size_t *vlen)
{
	const char *line, *eol, *sp;

	for (;;) {
		line = *p;
		if (*line == '\0')
			return false;
		eol = strchr(line, '\n');
		if (!eol)
			eol = line + strlen(line);
		*p = *eol ? eol + 1 : eol;
		if (eol > line)
			break;			/* skip empty lines */
	}
	sp = memchr(line, ' ', (size_t)(eol - line));
	*name = line;
	if (sp) {
		*nlen = (size_t)(sp - line);
		*val = sp + 1;
		*vlen = (size_t)(eol - sp - 1);
	} else {
		*nlen = (size_t)(eol - line);
		*val = eol;
		*vlen = 0;
	}
	return true;
}

/* is_decimal - optional '-', then one or more digits, nothing else. */
static bool is_decimal(const char *s, size_t len)
{
	size_t i = 0;

	if (len > 0 && s[0] == '-')
		i = 1;
	if (i == len)
		return false;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static void json_string(const char *s, size_t len)
{
	size_t i;

	putchar('"');
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* json_number - @s is_decimal(); drop leading zeros JSON does not allow. */
static void json_number(const char *s, size_t len)
{
	if (*s == '-') {
		putchar('-');
		s++;
		len--;
	}
	while (len > 1 && *s == '0') {
		s++;
		len--;
	}
	fwrite(s, 1, len, stdout);
}

static void print_stats_json(const char *text)
{
	const char *p = text, *name, *val;
	size_t nlen, vlen;
	bool first = true;

	putchar('{');
	while (next_stat(&p, &name, &nlen, &val, &vlen)) {
		if (!first)
			putchar(',');
		first = false;
		json_string(name, nlen);
		putchar(':');
		if (is_decimal(val, vlen))
			json_number(val, vlen);
		else
			json_string(val, vlen);
	}
	puts("}");
}

/* ---- escaped text: what --escape prints and batch reads ---- */

/*
 * put_escaped - @p as C-style text: printable ASCII as is, except \ and ",
 * which get a backslash; \n \r \t; every other byte \xHH.
 */
static void put_escaped(const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = s[i];

		if (ch == '\\' || ch == '"') {
			putchar('\\');
			putchar(ch);
		} else if (ch == '\n') {
			fputs("\\n", stdout);
		} else if (ch == '\r') {
			fputs("\\r", stdout);
		} else if (ch == '\t') {
			fputs("\\t", stdout);
		} else if (ch < 0x20 || ch > 0x7e) {
			putchar('\\');
			putchar('x');
			putchar(hex[ch >> 4]);
			putchar(hex[ch & 15]);
		} else {
			putchar(ch);
		}
	}
}

/* put_bytes - @p raw, or escaped with --escape; then a newline. */
static void put_bytes(const struct args *a, const void *p, size_t n)
{
	if (a->escape)
		put_escaped(p, n);
	else
		fwrite(p, 1, n, stdout);
	putchar('\n');
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * next_token - the next token of a batch line in [*@pp, @end): blanks
 * (space, tab) separate tokens; a token may be written in double quotes
 * (so it may be empty or hold blanks); in and out of quotes, \\ \" \n \r
 * \t \0 \xHH and "\ " (a space) stand for one byte. The decoded bytes go
 * to @out (at least as long as the line). Return 1 with *@len set, 0 at
 * the end of the line, or -1 with *@err set.
 */
static int next_token(const char **pp, const char *end, char *out,
		      size_t *len, const char **err)
{
	const char *p = *pp;
	bool quoted = false;
	size_t n = 0;
	int hi, lo;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end)
		return 0;
	if (*p == '"') {
		quoted = true;
		p++;
	}
	for (;;) {
		if (p == end) {
			if (quoted) {
				*err = "unterminated quote";
				return -1;
			}
			break;
		}
		if (quoted && *p == '"') {
			p++;
			if (p < end && *p != ' ' && *p != '\t') {
				*err = "a closing quote must end the token";
				return -1;
			}
			break;
		}
		if (!quoted && (*p == ' ' || *p == '\t'))
			break;
		if (!quoted && *p == '"') {
			*err = "a quote inside a token (escape it as \\\")";
			return -1;
		}
		if (*p != '\\') {
			out[n++] = *p++;
			continue;
		}
		if (++p == end) {
			*err = "a backslash ends the line";
			return -1;
		}
		switch (*p++) {
		case '\\': out[n++] = '\\'; break;
		case '"':  out[n++] = '"'; break;
		case ' ':  out[n++] = ' '; break;
		case 'n':  out[n++] = '\n'; break;
		case 'r':  out[n++] = '\r'; break;
		case 't':  out[n++] = '\t'; break;
		case '0':  out[n++] = '\0'; break;
		case 'x':
			if (end - p < 2 || (hi = hexval(p[0])) < 0 ||
			    (lo = hexval(p[1])) < 0) {
				*err = "\\x needs two hex digits";
				return -1;
			}
			out[n++] = (char)(hi << 4 | lo);
			p += 2;
			break;
		default:
			*err = "unknown escape";
			return -1;
		}
	}
	*pp = p;
	*len = n;
	return 1;
}

/* ---- values and ops from files or standard input ---- */

/* The most read_all() takes: the largest value any daemon accepts, plus
 * the framing of a batch of that size. */
#define INPUT_MAX	((size_t)512 << 20 | 1)

/*
 * read_input - all of @path ("-" or NULL: standard input) into a malloc()ed
 * buffer (NUL-terminated, not counted). Return 0, or -1 with errno set
 * (EFBIG past INPUT_MAX).
 */
static int read_input(const char *path, char **out, size_t *len)
{
	FILE *f = (!path || strcmp(path, "-") == 0) ? stdin : fopen(path, "rb");
	size_t n = 0, cap = 0, got;
	char *buf = NULL, *p;
	int err = 0;

	if (!f)
		return -1;
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 65536;
			if (cap > INPUT_MAX + 65536)
				cap = INPUT_MAX + 65536;
			p = realloc(buf, cap + 1);
			if (!p) {
				err = ENOMEM;
				break;
			}
			buf = p;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n > INPUT_MAX) {
			err = EFBIG;
			break;
		}
		if (got == 0) {
			if (ferror(f))
				err = errno ? errno : EIO;
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	if (err) {
		free(buf);
		errno = err;
		return -1;
	}
	if (!buf && !(buf = malloc(1))) {
		errno = ENOMEM;
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* input_error - one line for an unreadable input, then exit 1. */
static void input_error(const char *cmd, const char *path)
	__attribute__((noreturn));

static void input_error(const char *cmd, const char *path)
{
	int err = errno;

	fprintf(stderr, PROG ": %s: %s: %s\n", cmd,
		path && strcmp(path, "-") ? path : "standard input",
		err == EFBIG ? "input too large" : strerror(err));
	exit(EXIT_FAIL);
}

/*
 * batch_option - one option token of a batch line into @op. Return NULL
 * or what is wrong.
 */
static const char *batch_option(struct kvshm_batch_op *op, const char *t,
				size_t n)
{
	char num[32] = "";
	int64_t v;
	uint64_t u;

	/* The number after "=", NUL-terminated ("" if it cannot be one). */
	if (n > 4 && n - 4 < sizeof(num) && memchr(t, '\0', n) == NULL) {
		memcpy(num, t + 4, n - 4);
		num[n - 4] = '\0';
	}
	if (n >= 4 && memcmp(t, "ttl=", 4) == 0) {
		if (op->op != KVSHM_BATCH_PUT)
			return "ttl= applies to put only";
		if (parse_i64(num, 0, INT64_MAX, &v) != 0)
			return "bad ttl=, expected milliseconds >= 0";
		op->ttl_ms = v;
		return NULL;
	}
	if (op->flags)
		return "more than one of nx, xx, ver=";
	if (n == 2 && memcmp(t, "nx", 2) == 0) {
		if (op->op != KVSHM_BATCH_PUT)
			return "nx applies to put only";
		op->flags = KVSHM_NX;
	} else if (n == 2 && memcmp(t, "xx", 2) == 0) {
		op->flags = KVSHM_XX;
	} else if (n >= 4 && memcmp(t, "ver=", 4) == 0) {
		if (parse_u64(num, &u) != 0)
			return "bad ver=, expected an unsigned integer";
		op->flags = KVSHM_IFVERSION;
		op->version = u;
	} else {
		return "unknown option (ttl=MS, nx, xx, ver=V)";
	}
	return NULL;
}

/*
 * parse_batch_line - one line of batch input into @op, decoded bytes
 * kept in @store (as long as the line). Return NULL, or what is wrong.
 * *@empty is set for a blank or comment line.
 */
static const char *parse_batch_line(const char *line, const char *end,
				    char *store, struct kvshm_batch_op *op,
				    bool *empty)
{
	const char *p = line, *err = NULL;
	char *t = store;
	size_t n;
	int rc, i;

	memset(op, 0, sizeof(*op));
	*empty = false;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p == '#') {
		*empty = true;
		return NULL;
	}
	for (i = 0; (rc = next_token(&p, end, t, &n, &err)) == 1; i++) {
		if (i == 0) {
			if (n == 3 && memcmp(t, "put", 3) == 0)
				op->op = KVSHM_BATCH_PUT;
			else if (n == 3 && memcmp(t, "del", 3) == 0)
				op->op = KVSHM_BATCH_DEL;
			else
				return "expected put or del";
		} else if (i == 1) {
			op->key = t;
			op->klen = n;
		} else if (i == 2 && op->op == KVSHM_BATCH_PUT) {
			op->val = t;
			op->vlen = n;
		} else if ((err = batch_option(op, t, n)) != NULL) {
			return err;
		}
		t += n;
	}
	if (rc < 0)
		return err;
	if (i < (op->op == KVSHM_BATCH_PUT ? 3 : 2))
		return op->op == KVSHM_BATCH_PUT ? "expected put KEY VALUE" :
						   "expected del KEY";
	if (op->klen == 0)
		return "empty key";
	return NULL;
}

/*
 * load_batch - read and parse the ops of batch from --file or standard
 * input, before attaching. An unreadable input exits 1; a bad line is a
 * usage error naming it. The ops point into a->val_buf.
 */
static void load_batch(struct args *a)
{
	const char *p, *end, *eol, *err;
	size_t len, line = 0, cap = 0;
	char *store;
	bool empty;

	if (read_input(a->file, &a->val_buf, &len) < 0)
		input_error(a->cmd, a->file);
	/* Decoded tokens are never longer than the text they come from. */
	store = malloc(len + 1);
	if (!store) {
		errno = ENOMEM;
		input_error(a->cmd, a->file);
	}
	for (p = a->val_buf, end = p + len; p < end; p = eol + 1) {
		struct kvshm_batch_op op;

		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		line++;
		err = parse_batch_line(p, eol, store + (p - a->val_buf), &op,
				       &empty);
		if (err)
			usage_error("%s: line %zu: %s", a->cmd, line, err);
		if (empty)
			continue;
		if (a->nops == cap) {
			cap = cap ? cap * 2 : 64;
			a->ops = realloc(a->ops, cap * sizeof(*a->ops));
			a->op_line = realloc(a->op_line,
					     cap * sizeof(*a->op_line));
			if (!a->ops || !a->op_line) {
				errno = ENOMEM;
				input_error(a->cmd, a->file);
			}
		}
		a->ops[a->nops] = op;
		a->op_line[a->nops++] = line;
	}
	if (a->nops == 0)
		usage_error("%s: no operation in the input", a->cmd);
	/* The tokens live in store: swap it in as the buffer to free. */
	free(a->val_buf);
	a->val_buf = store;
}

/*
 * load_value - resolve the VALUE of a command that takes one, the
 * argument at index @vpos (0: none), or read it.
 */
static void load_value(const char *cmd, int vpos, struct args *a)
{
	const char *path = a->file;
	size_t len;

	if (vpos <= 0)
		return;
	if (a->file || a->from_stdin) {
		if (a->npos > vpos)
			usage_error("%s: a VALUE argument and --%s exclude "
				    "each other", cmd,
				    a->file ? "file" : "stdin");
	} else if (strcmp(a->pos[vpos], "-") == 0) {
		a->from_stdin = true;
	} else {
		a->val = a->pos[vpos];
		a->vlen = strlen(a->val);
		return;
	}
	if (read_input(a->from_stdin ? NULL : path, &a->val_buf, &len) < 0)
		input_error(a->cmd, a->from_stdin ? NULL : path);
	a->val = a->val_buf;
	a->vlen = len;
}

/* get --meta: "name value" lines, then "value VALUE" (all one reading). */
static int get_meta(kvshm_t *c, const struct args *a)
{
	struct kvshm_meta m = { .struct_size = sizeof(m) };
	const char *key = a->pos[0];
	size_t cap = 256;
	char *buf = NULL, *p;
	int rc;

	do {
		p = realloc(buf, cap);
		if (!p) {
			free(buf);
			return fail(a->cmd, KVSHM_ESYS, ENOMEM);
		}
		buf = p;
		rc = kvshm_get_meta(c, key, strlen(key), buf, cap, &m);
		if (rc == KVSHM_ETOOSMALL)
			cap = m.vlen;
	} while (rc == KVSHM_ETOOSMALL);
	if (rc != KVSHM_OK) {
		free(buf);
		return fail(a->cmd, rc, errno);
	}
	printf("version %" PRIu64 "\n", m.version);
	printf("length %zu\n", m.vlen);
	printf("ttl_ms %" PRId64 "\n", m.ttl_ms);
	printf("expire_ms %" PRId64 "\n", m.expire_ms);
	printf("flags %s\n", (m.flags & KVSHM_META_TTL) ? "ttl" : "none");
	fputs("value ", stdout);
	put_bytes(a, buf, m.vlen);
	free(buf);
	return 0;
}

/* ---- commands ---- */

static int cmd_ping(kvshm_t *c, const struct args *a)
{
	int rc = kvshm_ping(c);

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	puts("PONG");
	return 0;
}

static int cmd_stats(kvshm_t *c, const struct args *a)
{
	char *text = NULL;
	int rc = kvshm_stats(c, &text);

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	if (a->json) {
		print_stats_json(text);
	} else if (a->prometheus) {
		if (prom_write(stdout, text, a->name) < 0) {
			free(text);
			errno = ENOMEM;
			return fail(a->cmd, KVSHM_ESYS, errno);
		}
	} else {
		fputs(text, stdout);
	}
	free(text);
	return 0;
}

/* open, self or orphan, then ",stalled" and ",revoked" if they apply. */
static const char *client_state(const struct kvshm_client *cl)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "%s%s%s",
		 cl->flags & KVSHM_CLIENT_ORPHAN ? "orphan" :
		 cl->flags & KVSHM_CLIENT_SELF ? "self" : "open",
		 cl->flags & KVSHM_CLIENT_STALLED ? ",stalled" : "",
		 cl->flags & KVSHM_CLIENT_REVOKED ? ",revoked" : "");
	return buf;
}

static int print_client(const struct kvshm_client *cl, void *arg)
{
	(void)arg;
	printf("%7d %6u %6u %5u %9" PRIu64 " %11" PRIu64 " %11" PRIu64
	       " %11" PRIu64 " %s\n", (int)cl->pid, (unsigned)cl->uid,
	       (unsigned)cl->gid, cl->slots, cl->requests, cl->bytes_in,
	       cl->bytes_out, cl->connected_ms / 1000, client_state(cl));
	return 0;
}

static int print_client_json(const struct kvshm_client *cl, void *arg)
{
	bool *first = arg;

	printf("%s{\"pid\":%d,\"uid\":%u,\"gid\":%u,\"slots\":%u,"
	       "\"requests\":%" PRIu64 ",\"bytes_in\":%" PRIu64 ","
	       "\"bytes_out\":%" PRIu64 ",\"connected_s\":%" PRIu64 ","
	       "\"state\":\"%s\"}", *first ? "" : ",", (int)cl->pid,
	       (unsigned)cl->uid, (unsigned)cl->gid, cl->slots, cl->requests,
	       cl->bytes_in, cl->bytes_out, cl->connected_ms / 1000,
	       client_state(cl));
	*first = false;
	return 0;
}

/* clients [--json]: one line (or JSON object) per kvshm_clients() entry. */
static int cmd_clients(kvshm_t *c, const struct args *a)
{
	bool first = true;
	int rc;

	if (a->json)
		putchar('[');
	else
		printf("%7s %6s %6s %5s %9s %11s %11s %11s %s\n", "PID", "UID",
		       "GID", "SLOTS", "REQUESTS", "BYTES_IN", "BYTES_OUT",
		       "CONNECTED_S", "STATE");
	rc = kvshm_clients(c, a->json ? print_client_json : print_client,
			   &first);
	if (rc != KVSHM_OK) {
		if (a->json)
			putchar('\n');
		return fail(a->cmd, rc, errno);
	}
	if (a->json)
		puts("]");
	return 0;
}

/* config get | config set KEY VALUE (checked before attaching). */
static int cmd_config(kvshm_t *c, const struct args *a)
{
	char *text = NULL;
	int rc;

	if (strcmp(a->pos[0], "get") == 0) {
		rc = kvshm_config_get(c, &text);
		if (rc != KVSHM_OK)
			return fail("config get", rc, errno);
		fputs(text, stdout);
		free(text);
		return 0;
	}
	rc = kvshm_config_set(c, a->pos[1], a->pos[2]);
	if (rc == KVSHM_EINVAL) {
		fprintf(stderr, PROG ": config set: %s '%s': %s (the settings "
			"that can change are eviction, eviction-samples and "
			"eviction-watermark; see kvshmd(8))\n", a->pos[1],
			a->pos[2], kvshm_strerror(rc));
		return EXIT_FAIL;
	}
	if (rc != KVSHM_OK)
		return fail("config set", rc, errno);
	puts("OK");
	return 0;
}

static int cmd_info(kvshm_t *c, const struct args *a)
{
	static const char *const wanted[] = {
		"version", "pid", "name", "uptime_s", "keys",
		"memory_used", "memory_limit", "reader_slots_used",
	};
	const char *p, *name, *val;
	size_t i, nlen, vlen;
	char *text = NULL;
	int rc = kvshm_stats(c, &text);

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	for (i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		for (p = text; next_stat(&p, &name, &nlen, &val, &vlen);) {
			if (nlen == strlen(wanted[i]) &&
			    memcmp(name, wanted[i], nlen) == 0) {
				printf("%s: %.*s\n", wanted[i], (int)vlen, val);
				break;
			}
		}
	}
	free(text);
	return 0;
}

static int cmd_get(kvshm_t *c, const struct args *a)
{
	const char *key = a->pos[0];
	void *val = NULL;
	size_t vlen = 0;
	int rc;

	if (a->meta)
		return get_meta(c, a);
	rc = kvshm_get_alloc(c, key, strlen(key), &val, &vlen);
	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	put_bytes(a, val, vlen);
	free(val);
	return 0;
}

static int cmd_set(kvshm_t *c, const struct args *a)
{
	const char *key = a->pos[0];
	int rc = kvshm_set(c, key, strlen(key), a->val, a->vlen,
			   a->ttl_ms, a->set_flags);

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	puts("OK");
	return 0;
}

static int cmd_del(kvshm_t *c, const struct args *a)
{
	const char *key = a->pos[0];
	int rc = kvshm_del(c, key, strlen(key));

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	puts("1");
	return 0;
}

static int cmd_ttl(kvshm_t *c, const struct args *a)
{
	const char *key = a->pos[0];
	int64_t ttl = 0;
	int rc = kvshm_ttl(c, key, strlen(key), &ttl);

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	printf("%" PRId64 "\n", ttl);
	return 0;
}

static int cmd_expire(kvshm_t *c, const struct args *a)
{
	const char *key = a->pos[0];
	int rc = kvshm_expire(c, key, strlen(key), a->num);

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	puts("1");
	return 0;
}

static int cmd_persist(kvshm_t *c, const struct args *a)
{
	const char *key = a->pos[0];
	int rc = kvshm_persist(c, key, strlen(key));

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	puts("1");
	return 0;
}

static int cmd_incr(kvshm_t *c, const struct args *a)
{
	const char *key = a->pos[0];
	int64_t result = 0;
	int rc = kvshm_incr(c, key, strlen(key), a->npos > 1 ? a->num : 1,
			    &result);

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	printf("%" PRId64 "\n", result);
	return 0;
}

/*
 * The keys kvshm_keys() or kvshm_scan() reported, copied so the walk ends
 * before any output: a failed walk prints nothing.
 */
struct key_list {
	struct key_item {
		char *key;
		size_t len;
	} *v;
	size_t n, cap;
};

static int collect_key(const void *key, size_t klen, void *arg)
{
	struct key_list *l = arg;
	char *copy;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct key_item *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			goto err_nomem;
		l->v = v;
		l->cap = cap;
	}
	copy = malloc(klen ? klen : 1);
	if (!copy)
		goto err_nomem;
	memcpy(copy, key, klen);
	l->v[l->n].key = copy;
	l->v[l->n].len = klen;
	l->n++;
	return 0;

err_nomem:
	errno = ENOMEM;
	return KVSHM_ESYS;
}

static int cmp_key(const void *pa, const void *pb)
{
	const struct key_item *a = pa, *b = pb;
	size_t n = a->len < b->len ? a->len : b->len;
	int d = memcmp(a->key, b->key, n);

	if (d)
		return d;
	return (a->len > b->len) - (a->len < b->len);
}

/* print_keys - each key as put_bytes() writes it; sorted if @sort. */
static void print_keys(const struct args *a, struct key_list *l, bool sort)
{
	size_t i;

	if (sort && l->n > 1)
		qsort(l->v, l->n, sizeof(l->v[0]), cmp_key);
	for (i = 0; i < l->n; i++)
		put_bytes(a, l->v[i].key, l->v[i].len);
}

static void free_keys(struct key_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].key);
	free(l->v);
}

/* Keys come out sorted: the spec says unordered, people like it stable. */
static int cmd_keys(kvshm_t *c, const struct args *a)
{
	struct key_list l = { 0 };
	int rc, err;

	rc = kvshm_keys(c, a->npos > 0 ? a->pos[0] : NULL, collect_key, &l);
	err = errno;
	if (rc == KVSHM_OK)
		print_keys(a, &l, true);
	free_keys(&l);
	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, err);
	return 0;
}

/*
 * scan - without --limit, follow the cursor from --cursor until it comes
 * back to 0 and print every key (unordered unless --sorted). With
 * --limit N, exactly one kvshm_scan() call: at most N keys (that page
 * sorted if --sorted), then "cursor NEXT". A cursor that is not this
 * cache's fails with KVSHM_EINVAL (exit 1).
 */
static int cmd_scan(kvshm_t *c, const struct args *a)
{
	struct key_list l = { 0 };
	uint64_t cursor = a->cursor;
	int rc, err;

	do {
		rc = kvshm_scan(c, &cursor, &a->scan, collect_key, &l);
		err = errno;
	} while (rc == KVSHM_OK && a->scan.limit == 0 && cursor != 0);
	if (rc == KVSHM_OK) {
		print_keys(a, &l, a->sorted);
		if (a->scan.limit != 0)
			printf("cursor %" PRIu64 "\n", cursor);
	}
	free_keys(&l);
	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, err);
	return 0;
}

static int cmd_mdel(kvshm_t *c, const struct args *a)
{
	size_t i, n = (size_t)a->npos;
	struct kvshm_key *keys;
	uint64_t removed = 0;
	int rc, err;

	keys = calloc(n, sizeof(*keys));
	if (!keys)
		return fail(a->cmd, KVSHM_ESYS, ENOMEM);
	for (i = 0; i < n; i++) {
		keys[i].key = a->pos[i];
		keys[i].klen = strlen(a->pos[i]);
	}
	rc = kvshm_mdel(c, keys, n, &removed);
	err = errno;
	free(keys);
	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, err);
	printf("%" PRIu64 "\n", removed);
	return 0;
}

static int cmd_mset(kvshm_t *c, const struct args *a)
{
	struct kvshm_kv *kv;
	int i, n = a->npos / 2, rc;

	kv = calloc((size_t)n, sizeof(*kv));
	if (!kv)
		return fail(a->cmd, KVSHM_ESYS, ENOMEM);
	for (i = 0; i < n; i++) {
		kv[i].key = a->pos[2 * i];
		kv[i].klen = strlen(a->pos[2 * i]);
		kv[i].val = a->pos[2 * i + 1];
		kv[i].vlen = strlen(a->pos[2 * i + 1]);
		kv[i].ttl_ms = a->ttl_ms;
	}
	rc = kvshm_mset(c, kv, (size_t)n);
	free(kv);
	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	puts("OK");
	return 0;
}

static int cmd_append(kvshm_t *c, const struct args *a)
{
	const char *key = a->pos[0];
	size_t newlen = 0;
	int rc = kvshm_append(c, key, strlen(key), a->val, a->vlen, &newlen);

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	printf("%zu\n", newlen);
	return 0;
}

static int cmd_getdel(kvshm_t *c, const struct args *a)
{
	const char *key = a->pos[0];
	void *old = NULL;
	size_t olen = 0;
	int rc = kvshm_getdel(c, key, strlen(key), &old, &olen);

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	put_bytes(a, old, olen);
	free(old);
	return 0;
}

/* getset - nothing at all on stdout if the key was absent (redis: nil). */
static int cmd_getset(kvshm_t *c, const struct args *a)
{
	const char *key = a->pos[0];
	void *old = NULL;
	size_t olen = 0;
	int rc = kvshm_getset(c, key, strlen(key), a->val, a->vlen,
			      a->ttl_ms, &old, &olen);

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	if (old) {
		put_bytes(a, old, olen);
		free(old);
	}
	return 0;
}

static int cmd_strlen(kvshm_t *c, const struct args *a)
{
	const char *key = a->pos[0];
	size_t len = 0;
	int rc = kvshm_strlen(c, key, strlen(key), &len);

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	printf("%zu\n", len);
	return 0;
}

static int cmd_flush(kvshm_t *c, const struct args *a)
{
	uint64_t removed = 0;
	int rc = kvshm_flush(c, &removed);

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	printf("%" PRIu64 "\n", removed);
	return 0;
}

static int cmd_snapshot(kvshm_t *c, const struct args *a)
{
	uint64_t lsn = 0;
	int rc = kvshm_snapshot(c, &lsn);

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	printf("%" PRIu64 "\n", lsn);
	return 0;
}

static int cmd_dump(kvshm_t *c, const struct args *a)
{
	return ctl_dump(c, a->npos ? a->pos[0] : NULL);
}

static int cmd_restore(kvshm_t *c, const struct args *a)
{
	return ctl_restore(c, a->pos[0]);
}

/* Offline: these run without a daemon (c is NULL). */
static int cmd_check_wal(kvshm_t *c, const struct args *a)
{
	(void)c;
	return ctl_check_wal(a->pos[0]);
}

static int cmd_check_snapshot(kvshm_t *c, const struct args *a)
{
	(void)c;
	return ctl_check_snapshot(a->pos[0]);
}

/* What mget starts each key's buffer at; a longer value is read again. */
#define MGET_CAP	256

/*
 * mget - one kvshm_mget() into a MGET_CAP buffer per key; a key whose value
 * did not fit is read again with kvshm_get_alloc() (so it may be newer than
 * the rest of the batch). A missing key prints an empty line; a bad key
 * (empty, over the limit) fails the whole command before any output.
 */
static int cmd_mget(kvshm_t *c, const struct args *a)
{
	size_t i, n = (size_t)a->npos;
	struct kvshm_getv *v;
	int rc = KVSHM_OK, err = 0;

	v = calloc(n, sizeof(*v));
	if (!v)
		return fail(a->cmd, KVSHM_ESYS, ENOMEM);
	for (i = 0; i < n; i++) {
		v[i].key = a->pos[i];
		v[i].klen = strlen(a->pos[i]);
		v[i].cap = MGET_CAP;
		v[i].buf = malloc(MGET_CAP);
		if (!v[i].buf) {
			rc = KVSHM_ESYS;
			err = ENOMEM;
			goto out;
		}
	}
	rc = kvshm_mget(c, v, n);
	err = errno;
	if (rc != KVSHM_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if (v[i].rc == KVSHM_ETOOSMALL) {
			void *big = NULL;
			size_t blen = 0;

			v[i].rc = kvshm_get_alloc(c, v[i].key, v[i].klen,
						  &big, &blen);
			err = errno;
			if (v[i].rc == KVSHM_OK) {
				free(v[i].buf);
				v[i].buf = big;
				v[i].cap = blen;
				v[i].vlen = blen;
			}
		}
		if (v[i].rc != KVSHM_OK && v[i].rc != KVSHM_ENOTFOUND) {
			rc = v[i].rc;
			goto out;
		}
	}
	for (i = 0; i < n; i++)
		put_bytes(a, v[i].buf, v[i].rc == KVSHM_OK ? v[i].vlen : 0);
out:
	for (i = 0; i < n; i++)
		free(v[i].buf);
	free(v);
	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, err);
	return 0;
}

/* ---- compare-and-set, batches ---- */

static int cmd_cas(kvshm_t *c, const struct args *a)
{
	const char *key = a->pos[0];
	uint64_t nv = 0;
	int rc = kvshm_cas(c, key, strlen(key), a->val, a->vlen, a->ttl_ms,
			   a->version, &nv);

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	printf("%" PRIu64 "\n", nv);
	return 0;
}

static int cmd_casdel(kvshm_t *c, const struct args *a)
{
	const char *key = a->pos[0];
	int rc = kvshm_cas_del(c, key, strlen(key), a->version);

	if (rc != KVSHM_OK)
		return fail(a->cmd, rc, errno);
	puts("1");
	return 0;
}

/* batch - a failure names the input line of the op that caused it. */
static int cmd_batch(kvshm_t *c, const struct args *a)
{
	size_t failed = a->nops;
	int rc = kvshm_batch(c, a->ops, a->nops, &failed);
	int err = errno;

	if (rc == KVSHM_OK) {
		puts("OK");
		return 0;
	}
	if (failed < a->nops) {
		fprintf(stderr, PROG ": %s: line %zu: %s\n", a->cmd,
			a->op_line[failed], kvshm_strerror(rc));
		return EXIT_FAIL;
	}
	return fail(a->cmd, rc, err);
}

static const struct command commands[] = {
	/* name, args min..max, options, synopsis, numeric 2nd arg, run */
	{ "ping",    0, 0, 0, "", NULL, cmd_ping },
	{ "info",    0, 0, 0, "", NULL, cmd_info },
	{ "stats",   0, 0, CO_JSON | CO_PROMETHEUS, "[--json|--prometheus]",
	  NULL, cmd_stats },
	{ "clients", 0, 0, CO_JSON, "[--json]", NULL, cmd_clients },
	{ "get",     1, 1, CO_META | CO_ESCAPE, "KEY [--meta] [--escape]", NULL,
	  cmd_get },
	{ "mget",    1, INT_MAX, CO_ESCAPE, "KEY [KEY]... [--escape]", NULL,
	  cmd_mget },
	{ "set",     2, 2, CO_TTL | CO_NX | CO_XX | CO_FILE | CO_STDIN,
	  "KEY VALUE|--file F|--stdin [--ttl MS] [--nx|--xx]", NULL, cmd_set },
	{ "getset",  2, 2, CO_TTL | CO_ESCAPE | CO_FILE | CO_STDIN,
	  "KEY VALUE|--file F|--stdin [--ttl MS] [--escape]", NULL,
	  cmd_getset },
	{ "append",  2, 2, CO_FILE | CO_STDIN, "KEY VALUE|--file F|--stdin",
	  NULL, cmd_append },
	{ "strlen",  1, 1, 0, "KEY", NULL, cmd_strlen },
	{ "del",     1, 1, 0, "KEY", NULL, cmd_del },
	{ "mdel",    1, INT_MAX, 0, "KEY [KEY]...", NULL, cmd_mdel },
	{ "getdel",  1, 1, CO_ESCAPE, "KEY [--escape]", NULL, cmd_getdel },
	{ "ttl",     1, 1, 0, "KEY", NULL, cmd_ttl },
	{ "expire",  2, 2, 0, "KEY MS", "MS", cmd_expire },
	{ "persist", 1, 1, 0, "KEY", NULL, cmd_persist },
	{ "incr",    1, 2, 0, "KEY [DELTA]", "DELTA", cmd_incr },
	{ "keys",    0, 1, CO_ESCAPE, "[PATTERN] [--escape]", NULL, cmd_keys },
	{ "scan",    0, 0, CO_PREFIX | CO_PATTERN | CO_MIN | CO_MAX | CO_LIMIT |
	  CO_CURSOR | CO_SORTED | CO_RANGE | CO_ESCAPE,
	  "[--prefix P] [--pattern GLOB] [--min MIN] [--max MAX] "
	  "[--range MIN..MAX] [--limit N] [--cursor C] [--sorted] [--escape]",
	  NULL, cmd_scan },
	{ "mset",    2, INT_MAX, CO_TTL, "KEY VALUE [KEY VALUE]... [--ttl MS]",
	  NULL, cmd_mset },
	{ "flush",   0, 0, 0, "", NULL, cmd_flush },
	{ "cas",     3, 3, CO_TTL | CO_FILE | CO_STDIN,
	  "KEY VERSION VALUE|--file F|--stdin [--ttl MS]", NULL, cmd_cas },
	{ "casdel",  2, 2, 0, "KEY VERSION", NULL, cmd_casdel },
	{ "batch",   0, 0, CO_FILE | CO_STDIN, "[--file F|--stdin]", NULL,
	  cmd_batch },
	{ "snapshot", 0, 0, 0, "", NULL, cmd_snapshot },
	{ "dump",    0, 1, 0, "[FILE]", NULL, cmd_dump },
	{ "restore", 1, 1, 0, "FILE", NULL, cmd_restore },
	{ "check-wal", 1, 1, 0, "DIR", NULL, cmd_check_wal },
	{ "check-snapshot", 1, 1, 0, "FILE", NULL, cmd_check_snapshot },
	{ "config",  1, 3, 0, "get | config set KEY VALUE", NULL, cmd_config },
};

/*
 * value_pos - the index of the VALUE argument that --file, --stdin or "-"
 * may give instead, or 0 if the command takes no such value.
 */
static int value_pos(const struct command *cmd)
{
	if (cmd->run == cmd_set || cmd->run == cmd_getset ||
	    cmd->run == cmd_append)
		return 1;
	return cmd->run == cmd_cas ? 2 : 0;
}

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void add_positional(const struct command *cmd, struct args *a,
			   const char *arg)
{
	if (a->npos >= cmd->max_args)
		usage_error("%s: unexpected argument '%s'", cmd->name, arg);
	a->pos[a->npos++] = arg;
}

/* finish_stdout - flush stdout; a lost write is a failure (exit 1). */
static int finish_stdout(const char *cmd)
{
	int err = 0;

	if (fflush(stdout) != 0)
		err = errno ? errno : EIO;
	else if (ferror(stdout))
		err = EIO;
	if (fclose(stdout) != 0 && err == 0)
		err = errno ? errno : EIO;
	if (err == 0)
		return 0;
	if (cmd)
		fprintf(stderr, PROG ": %s: write error: %s\n", cmd,
			strerror(err));
	else
		fprintf(stderr, PROG ": write error: %s\n", strerror(err));
	return EXIT_FAIL;
}

/*
 * parse_command_args - the command's own options and arguments.
 * @argc, @argv: from the command name on (argv[0] is the command).
 *
 * Options may come before, between or after the arguments; "--" ends
 * them, and a negative number ("-5") is an argument, not an option.
 * Exits with a usage error on anything wrong.
 */
static void parse_command_args(const struct command *cmd, struct args *a,
			       int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ttl",     required_argument, NULL, OPT_TTL },
		{ "nx",      no_argument,       NULL, OPT_NX },
		{ "xx",      no_argument,       NULL, OPT_XX },
		{ "json",    no_argument,       NULL, OPT_JSON },
		{ "prefix",  required_argument, NULL, OPT_PREFIX },
		{ "pattern", required_argument, NULL, OPT_PATTERN },
		{ "min",     required_argument, NULL, OPT_MIN },
		{ "max",     required_argument, NULL, OPT_MAX },
		{ "limit",   required_argument, NULL, OPT_LIMIT },
		{ "cursor",  required_argument, NULL, OPT_CURSOR },
		{ "sorted",  no_argument,       NULL, OPT_SORTED },
		{ "help",    no_argument,       NULL, OPT_HELP },
		{ "meta",    no_argument,       NULL, OPT_META },
		{ "escape",  no_argument,       NULL, 'e' },
		{ "file",    required_argument, NULL, 'f' },
		{ "stdin",   no_argument,       NULL, OPT_STDIN },
		{ "range",   required_argument, NULL, OPT_RANGE },
		{ "prometheus", no_argument,    NULL, OPT_PROMETHEUS },
		{ NULL, 0, NULL, 0 }
	};
	const char *dots;
	unsigned int seen = 0, bad;
	int64_t limit;
	size_t i;
	int opt;

	/* "-": arguments come back in order as 1, whatever POSIXLY_CORRECT. */
	opterr = 0;
	optind = 0;
	for (;;) {
		if (optind > 0 && optind < argc &&
		    is_negative_number(argv[optind])) {
			add_positional(cmd, a, argv[optind++]);
			continue;
		}
		opt = getopt_long(argc, argv, "-:ef:", opts, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case 1:
			add_positional(cmd, a, optarg);
			break;
		case OPT_TTL:
			seen |= CO_TTL;
			if (parse_i64(optarg, 0, INT64_MAX, &a->ttl_ms) != 0)
				usage_error("%s: bad --ttl '%s'", cmd->name,
					    optarg);
			break;
		case OPT_NX:
			seen |= CO_NX;
			a->set_flags = KVSHM_NX;
			break;
		case OPT_XX:
			seen |= CO_XX;
			a->set_flags = KVSHM_XX;
			break;
		case OPT_JSON:
			seen |= CO_JSON;
			a->json = true;
			break;
		case OPT_PROMETHEUS:
			seen |= CO_PROMETHEUS;
			a->prometheus = true;
			break;
		case OPT_PREFIX:
			seen |= CO_PREFIX;
			a->scan.prefix = optarg;
			a->scan.prefix_len = strlen(optarg);
			break;
		case OPT_PATTERN:
			seen |= CO_PATTERN;
			a->scan.pattern = optarg;
			break;
		case OPT_MIN:
			seen |= CO_MIN;
			a->scan.min = optarg;
			a->scan.min_len = strlen(optarg);
			break;
		case OPT_MAX:
			seen |= CO_MAX;
			a->scan.max = optarg;
			a->scan.max_len = strlen(optarg);
			break;
		case OPT_LIMIT:
			seen |= CO_LIMIT;
			if (parse_i64(optarg, 1, LIMIT_MAX, &limit) != 0)
				usage_error("%s: bad --limit '%s', expected a "
					    "positive integer", cmd->name,
					    optarg);
			a->scan.limit = (size_t)limit;
			break;
		case OPT_CURSOR:
			seen |= CO_CURSOR;
			if (parse_u64(optarg, &a->cursor) != 0)
				usage_error("%s: bad --cursor '%s', expected an "
					    "unsigned decimal integer",
					    cmd->name, optarg);
			break;
		case OPT_SORTED:
			seen |= CO_SORTED;
			a->sorted = true;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(finish_stdout(NULL));
		case OPT_META:
			seen |= CO_META;
			a->meta = true;
			break;
		case 'e':
			seen |= CO_ESCAPE;
			a->escape = true;
			break;
		case 'f':
			seen |= CO_FILE;
			a->file = optarg;
			break;
		case OPT_STDIN:
			seen |= CO_STDIN;
			a->from_stdin = true;
			break;
		case OPT_RANGE:
			/* MIN..MAX, split at the first "..": either side may
			 * be empty (no bound). */
			seen |= CO_RANGE;
			dots = strstr(optarg, "..");
			if (!dots)
				usage_error("%s: bad --range '%s', expected "
					    "MIN..MAX", cmd->name, optarg);
			if (dots > optarg) {
				a->scan.min = optarg;
				a->scan.min_len = (size_t)(dots - optarg);
			}
			if (dots[2]) {
				a->scan.max = dots + 2;
				a->scan.max_len = strlen(dots + 2);
			}
			break;
		default:
			bad_option(cmd->name, opt, argv, optind);
		}
	}
	for (; optind < argc; optind++)		/* after "--" */
		add_positional(cmd, a, argv[optind]);

	bad = seen & ~cmd->opts;
	for (i = 0; bad && i < sizeof(co_names) / sizeof(co_names[0]); i++)
		if (bad & (1u << i))
			usage_error("%s: option '--%s' does not apply here",
				    cmd->name, co_names[i]);
	if ((seen & (CO_NX | CO_XX)) == (CO_NX | CO_XX))
		usage_error("%s: --nx and --xx exclude each other", cmd->name);
	if ((seen & (CO_FILE | CO_STDIN)) == (CO_FILE | CO_STDIN))
		usage_error("%s: --file and --stdin exclude each other",
			    cmd->name);
	if ((seen & (CO_JSON | CO_PROMETHEUS)) == (CO_JSON | CO_PROMETHEUS))
		usage_error("%s: --json and --prometheus exclude each other",
			    cmd->name);
	if ((seen & CO_RANGE) && (seen & (CO_MIN | CO_MAX)))
		usage_error("%s: --range and --min/--max exclude each other",
			    cmd->name);
	if (a->npos < cmd->min_args - (value_pos(cmd) > 0 &&
				       (seen & (CO_FILE | CO_STDIN))))
		usage_error("%s: missing arguments, expected %s %s",
			    cmd->name, cmd->name, cmd->synopsis);
	if (cmd->run == cmd_config &&
	    !(strcmp(a->pos[0], "get") == 0 && a->npos == 1) &&
	    !(strcmp(a->pos[0], "set") == 0 && a->npos == 3))
		usage_error("config: expected 'config get' or 'config set KEY "
			    "VALUE'");
	if ((cmd->run == cmd_cas || cmd->run == cmd_casdel) &&
	    parse_u64(a->pos[1], &a->version) != 0)
		usage_error("%s: bad VERSION '%s', expected an unsigned "
			    "decimal integer", cmd->name, a->pos[1]);
	if (cmd->run == cmd_mset && a->npos % 2)
		usage_error("%s: KEY VALUE pairs expected, got an odd count",
			    cmd->name);
	if (cmd->num_name && a->npos > 1 &&
	    parse_i64(a->pos[1], INT64_MIN, INT64_MAX, &a->num) != 0)
		usage_error("%s: bad %s '%s', expected a decimal integer",
			    cmd->name, cmd->num_name, a->pos[1]);
}

int main(int argc, char **argv)
{
	static const struct option gopts[] = {
		{ "name",    required_argument, NULL, OPT_NAME },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help",    no_argument,       NULL, 'h' },
		{ "version", no_argument,       NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct kvshm_open_opts oo = { .struct_size = sizeof(oo) };
	const char *name = "default";
	const struct command *cmd;
	struct args a = { 0 };
	const char **pos = calloc((size_t)argc + 1, sizeof(*pos));
	kvshm_t *c = NULL;
	int64_t timeout;
	int opt, rc, status;

	/* "+": stop at the command name; its options are its own. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:hV", gopts, NULL)) != -1) {
		switch (opt) {
		case OPT_NAME:
			name = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_i64(optarg, 0, INT32_MAX, &timeout) != 0)
				usage_error("bad --timeout '%s'", optarg);
			oo.timeout_ms = (int)timeout;
			break;
		case 'h':
			usage(stdout);
			return finish_stdout(NULL);
		case 'V':
			puts(PROG " " PACKAGE_VERSION);
			return finish_stdout(NULL);
		default:
			bad_option("", opt, argv, optind);
		}
	}
	if (optind >= argc)
		usage_error("missing command");
	cmd = find_command(argv[optind]);
	if (!cmd)
		usage_error("unknown command '%s'", argv[optind]);
	if (!pos) {
		fprintf(stderr, PROG ": out of memory\n");
		return EXIT_FAIL;
	}
	a.cmd = cmd->name;
	a.name = name;
	a.pos = pos;
	parse_command_args(cmd, &a, argc - optind, argv + optind);
	/* Input is read before attaching, like the command line checked. */
	if (cmd->run == cmd_batch)
		load_batch(&a);
	else
		load_value(cmd->name, value_pos(cmd), &a);

	if (cmd->run == cmd_check_wal || cmd->run == cmd_check_snapshot) {
		status = cmd->run(NULL, &a);
		free(pos);
		if (finish_stdout(cmd->name) != 0)
			status = EXIT_FAIL;
		return status;
	}
	/* A snapshot or dump of a big cache takes a while: unless told
	 * otherwise, wait up to ten minutes rather than the default 5 s. */
	if (oo.timeout_ms == 0 && cmd->run == cmd_snapshot)
		oo.timeout_ms = 600000;
	rc = kvshm_open(&c, name, &oo);
	if (rc != KVSHM_OK) {
		if (rc == KVSHM_ESYS)
			fprintf(stderr,
				PROG ": cannot attach to '%s': %s: %s\n",
				name, kvshm_strerror(rc), strerror(errno));
		else
			fprintf(stderr, PROG ": cannot attach to '%s': %s\n",
				name, kvshm_strerror(rc));
		free(pos);
		return EXIT_FAIL;
	}
	status = cmd->run(c, &a);
	kvshm_close(c);
	free(pos);
	free(a.val_buf);
	free(a.ops);
	free(a.op_line);
	if (finish_stdout(cmd->name) != 0)
		status = EXIT_FAIL;
	return status;
}
