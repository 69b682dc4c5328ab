// SPDX-License-Identifier: MIT
/*
 * daemon/main.c - kvshmd: options, daemonizing, and the one place where
 * the modules are built and wired together (segment, heap, reclaim, index,
 * hooks, stats, server), then torn down in reverse at a clean stop.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "epoch.h"
#include "kvshmd.h"
#include "log.h"
#include "snapshot.h"

#define MIN_MEMORY	(8ULL << 20)
#define MAX_VALUE_CAP	(512U << 20)

static void usage(FILE *f)
{
	fprintf(f,
"Usage: kvshmd [OPTION]...\n"
"Serve a kvshm shared-memory cache.\n"
"\n"
"  --name NAME          cache name, [A-Za-z0-9._-]{1,64} (default: default)\n"
"  --data-dir DIR       directory for the daemon's files (default: .)\n"
"  --socket PATH        write-channel socket (default: DIR/kvshmd.sock)\n"
"  --memory SIZE        data heap, the memory limit (default: 64M, min 8M)\n"
"  --shards N           hash-table shards, power of two (default: 256)\n"
"  --max-key BYTES      longest key, 1..65535 (default: 1024)\n"
"  --max-value SIZE     longest value, up to 512M (default: 1M)\n"
"  --max-readers N      reader slots, 16..65536 (default: 4096)\n"
"  --max-readers-per-client N\n"
"                       reader slots one client handle may hold\n"
"                       (default: half of --max-readers)\n"
"  --max-entries N      most keys stored at once, 0 = no limit but\n"
"                       memory (default: 0)\n"
"  --eviction POLICY    what goes when memory or --max-entries is full:\n"
"                       noeviction (default: writes fail), lru, lfu,\n"
"                       random, volatile-ttl, volatile-lru, volatile-lfu,\n"
"                       volatile-random, sieve\n"
"  --eviction-samples N keys sampled per eviction by lru, lfu, random\n"
"                       and volatile-* but ttl, 1..64 (default: 10)\n"
"  --eviction-watermark PCT\n"
"                       evict in the background while less than PCT%%\n"
"                       of the heap is free, 0..50, 0 = only when a\n"
"                       write finds no room (default: 2)\n"
"  --persistence MODE   wal (WAL and snapshots, the default), snapshot\n"
"                       (snapshots only) or none (a pure cache)\n"
"  --fsync POLICY       always, everysec (default) or no\n"
"  --wal-segment-size SIZE\n"
"                       start a new WAL file after SIZE (default: 64M)\n"
"  --snapshot-interval SECS\n"
"                       snapshot this often if anything changed\n"
"                       (default: 3600, 0 = never)\n"
"  --snapshot-writes N  snapshot after N writes (default: 1000000, 0 = never)\n"
"  --snapshot-keep N    snapshots kept, 1..100 (default: 2)\n"
"  --snapshot-on-stop yes|no\n"
"                       snapshot at a clean stop (default: yes)\n"
"  --load-threads N     threads loading a snapshot at start, 0..16\n"
"                       (default: 0, one per online CPU)\n"
"  --reader-revoke-ms MS\n"
"                       stop waiting for a reader stuck in one read\n"
"                       section this long; it reads again when it\n"
"                       resumes (default: 10000, 0 = never)\n"
"  --spin-us US         after a request, poll for the next one this long\n"
"                       before sleeping, 0..1000 (default: 50, 0 = never)\n"
"  --foreground         do not detach; log to stderr\n"
"  --log-level LEVEL    error, warning, notice, info (default) or debug\n"
"  --log-file PATH      log there, appending, instead of to stderr or\n"
"                       syslog; SIGHUP reopens it\n"
"  --pidfile PATH       write the daemon's PID there (default when\n"
"                       detached: DIR/kvshmd.pid; in the foreground: none)\n"
"  --group GROUP        owner group of the segments and the socket (and of\n"
"                       DIR if kvshmd creates it); default: kvshmd's\n"
"  --data-mode MODE     mode of the data segment (default: 0640; never\n"
"                       writable by group or others)\n"
"  --rw-mode MODE       mode of the reader area (default: 0660)\n"
"  --socket-mode MODE   mode of the socket (default: 0660)\n"
"  --writers LIST       users and @groups that may write, comma-separated,\n"
"                       or * for anyone who can connect (default: *);\n"
"                       kvshmd's own user and root always may\n"
"  --config FILE        read settings from FILE (see kvshmd.conf(5));\n"
"                       flags override it\n"
"  --check-config       print the effective settings and exit\n"
"  -h, --help           show this help and exit\n"
"  -V, --version        show the version and exit\n"
"\n"
"SIZE takes a K, M, G or T suffix (powers of 1024).\n");
}

/* "64M" -> bytes. Return 0 or -EINVAL. */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if ((*end == 'b' || *end == 'B') && shift)
		end++;
	if (*end || (shift && v > (ULLONG_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}


/* "FILE:LINE: " while applying a configuration file, "" for flags. */
static char opt_where[512];

/* On SIGHUP errors go to the log: stderr is /dev/null once detached. */
static bool opt_to_log;

__attribute__((format(printf, 1, 2)))
static void opt_error(const char *fmt, ...)
{
	char msg[1024], *q;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!opt_to_log) {
		fprintf(stderr, "kvshmd: %s\n", msg);
		return;
	}
	while ((q = strchr(msg, '"')))		/* keep the field whole */
		*q = '\'';
	kvd_log(LOG_ERR, "event=reload_failed error=\"%s\" "
		"action=keep_running_config", msg);
}

static int bad_opt(const char *opt, const char *val, const char *why)
{
	opt_error("%sinvalid %s '%s': %s", opt_where, opt, val, why);
	if (!opt_to_log)
		fprintf(stderr, "Try 'kvshmd --help' for more information.\n");
	return -EINVAL;
}

enum {
	OPT_NAME = 256, OPT_DATA_DIR, OPT_SOCKET, OPT_MEMORY, OPT_SHARDS,
	OPT_MAX_KEY, OPT_MAX_VALUE, OPT_MAX_READERS, OPT_MAX_READERS_PER_CLIENT,
	OPT_MAX_ENTRIES, OPT_EVICTION, OPT_EVICTION_SAMPLES,
	OPT_EVICTION_WATERMARK, OPT_PERSISTENCE, OPT_FSYNC,
	OPT_WAL_SEGMENT_SIZE, OPT_SNAPSHOT_INTERVAL, OPT_SNAPSHOT_WRITES,
	OPT_SNAPSHOT_KEEP, OPT_SNAPSHOT_ON_STOP, OPT_LOAD_THREADS,
	OPT_READER_REVOKE_MS, OPT_SPIN_US,
	OPT_LOG_LEVEL, OPT_LOG_FILE,
	OPT_FOREGROUND, OPT_CONFIG, OPT_CHECK_CONFIG, OPT_PIDFILE,
	OPT_GROUP, OPT_DATA_MODE, OPT_RW_MODE, OPT_SOCKET_MODE, OPT_WRITERS,
};

static const struct option options[] = {
	{ "name",	 required_argument, NULL, OPT_NAME },
	{ "data-dir",	 required_argument, NULL, OPT_DATA_DIR },
	{ "socket",	 required_argument, NULL, OPT_SOCKET },
	{ "memory",	 required_argument, NULL, OPT_MEMORY },
	{ "shards",	 required_argument, NULL, OPT_SHARDS },
	{ "max-key",	 required_argument, NULL, OPT_MAX_KEY },
	{ "max-value",	 required_argument, NULL, OPT_MAX_VALUE },
	{ "max-readers", required_argument, NULL, OPT_MAX_READERS },
	{ "max-entries", required_argument, NULL, OPT_MAX_ENTRIES },
	{ "max-readers-per-client", required_argument, NULL,
	  OPT_MAX_READERS_PER_CLIENT },
	{ "eviction",	 required_argument, NULL, OPT_EVICTION },
	{ "eviction-samples", required_argument, NULL, OPT_EVICTION_SAMPLES },
	{ "eviction-watermark", required_argument, NULL,
	  OPT_EVICTION_WATERMARK },
	{ "persistence", required_argument, NULL, OPT_PERSISTENCE },
	{ "fsync",	 required_argument, NULL, OPT_FSYNC },
	{ "wal-segment-size", required_argument, NULL, OPT_WAL_SEGMENT_SIZE },
	{ "snapshot-interval", required_argument, NULL, OPT_SNAPSHOT_INTERVAL },
	{ "snapshot-writes", required_argument, NULL, OPT_SNAPSHOT_WRITES },
	{ "snapshot-keep", required_argument, NULL, OPT_SNAPSHOT_KEEP },
	{ "snapshot-on-stop", required_argument, NULL, OPT_SNAPSHOT_ON_STOP },
	{ "load-threads", required_argument, NULL, OPT_LOAD_THREADS },
	{ "reader-revoke-ms", required_argument, NULL, OPT_READER_REVOKE_MS },
	{ "spin-us",	 required_argument, NULL, OPT_SPIN_US },
	{ "log-level",	 required_argument, NULL, OPT_LOG_LEVEL },
	{ "log-file",	 required_argument, NULL, OPT_LOG_FILE },
	{ "foreground",	 no_argument,	    NULL, OPT_FOREGROUND },
	{ "pidfile",	 required_argument, NULL, OPT_PIDFILE },
	{ "group",	 required_argument, NULL, OPT_GROUP },
	{ "data-mode",	 required_argument, NULL, OPT_DATA_MODE },
	{ "rw-mode",	 required_argument, NULL, OPT_RW_MODE },
	{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
	{ "writers",	 required_argument, NULL, OPT_WRITERS },
	{ "config",	 required_argument, NULL, OPT_CONFIG },
	{ "check-config", no_argument,	    NULL, OPT_CHECK_CONFIG },
	{ "help",	 no_argument,	    NULL, 'h' },
	{ "version",	 no_argument,	    NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Where the data directory and socket come from, until checked. */
struct paths {
	const char *dir;
	const char *sock;
	const char *pidfile;
	bool check_only;		/* --check-config */
	bool reload;			/* SIGHUP: create nothing */
	char **owned;			/* values read from a file, freed once */
	size_t nowned;			/* parse_args() is done with them */
};

/*
 * set_opt - apply option @o with value @val (NULL for a flag) from the
 * command line or a configuration file. Return 0 or -EINVAL (reported).
 */
static int set_opt(struct kvd_config *c, struct paths *p, int o, const char *val)
{
	const char *why = NULL;
	uint64_t v;

	switch (o) {
	case OPT_NAME:
		if (!kvd_name_valid(val))
			return bad_opt("--name", val,
				       "use 1-64 of [A-Za-z0-9._-]");
		snprintf(c->name, sizeof(c->name), "%s", val);
		break;
	case OPT_DATA_DIR:
		p->dir = val;
		break;
	case OPT_SOCKET:
		p->sock = val;
		break;
	case OPT_MEMORY:
		if (parse_size(val, &c->memory) < 0 ||
		    c->memory < MIN_MEMORY)
			return bad_opt("--memory", val,
				       "a size of at least 8M");
		c->memory &= ~(uint64_t)(KVA_PAGE_SIZE - 1);
		break;
	case OPT_SHARDS:
		if (kvd_parse_uint(val, 1, 65536, &v) < 0 || (v & (v - 1)))
			return bad_opt("--shards", val,
				       "a power of two, 1..65536");
		c->nshards = (uint32_t)v;
		break;
	case OPT_MAX_KEY:
		if (kvd_parse_uint(val, 1, 65535, &v) < 0)
			return bad_opt("--max-key", val, "1..65535");
		c->max_key = (uint32_t)v;
		break;
	case OPT_MAX_VALUE:
		if (parse_size(val, &v) < 0 || v > MAX_VALUE_CAP)
			return bad_opt("--max-value", val,
				       "a size up to 512M");
		c->max_value = (uint32_t)v;
		break;
	case OPT_MAX_READERS:
		if (kvd_parse_uint(val, 16, 65536, &v) < 0)
			return bad_opt("--max-readers", val, "16..65536");
		c->max_readers = (uint32_t)v;
		break;
	case OPT_MAX_READERS_PER_CLIENT:
		if (kvd_parse_uint(val, 1, 65536, &v) < 0)
			return bad_opt("--max-readers-per-client", val,
				       "1..65536");
		c->max_readers_per_client = (uint32_t)v;
		break;
	case OPT_MAX_ENTRIES:
		if (kvd_parse_uint(val, 0, UINT64_MAX >> 1, &v) < 0)
			return bad_opt("--max-entries", val,
				       "a count, 0 for no limit");
		c->max_entries = v;
		break;
	case OPT_EVICTION: {
		int pol = kvd_policy_parse(val);

		if (pol < 0) {
			char names[256];

			snprintf(names, sizeof(names), "unknown policy; one of %s",
				 kvd_policy_names());
			return bad_opt("--eviction", val, names);
		}
		c->eviction = (enum kvd_policy)pol;
		break;
	}
	case OPT_EVICTION_SAMPLES:
		if (kvd_parse_uint(val, 1, 64, &v) < 0)
			return bad_opt("--eviction-samples", val, "1..64");
		c->eviction_samples = (uint32_t)v;
		break;
	case OPT_EVICTION_WATERMARK:
		if (kvd_parse_uint(val, 0, 50, &v) < 0)
			return bad_opt("--eviction-watermark", val,
				       "a percentage, 0..50");
		c->eviction_watermark = (uint32_t)v;
		break;
	case OPT_PERSISTENCE:
		if (strcmp(val, "wal") == 0)
			c->persistence = KVD_PERSIST_WAL;
		else if (strcmp(val, "snapshot") == 0)
			c->persistence = KVD_PERSIST_SNAPSHOT;
		else if (strcmp(val, "none") == 0)
			c->persistence = KVD_PERSIST_NONE;
		else
			return bad_opt("--persistence", val,
				       "wal, snapshot or none");
		break;
	case OPT_FSYNC:
		if (kvd_fsync_parse(val, &c->fsync) < 0)
			return bad_opt("--fsync", val, "always, everysec or no");
		break;
	case OPT_WAL_SEGMENT_SIZE:
		if (parse_size(val, &v) < 0 || v < 4096 || v > (1ULL << 40))
			return bad_opt("--wal-segment-size", val,
				       "a size from 4K to 1T");
		c->wal_segment_size = v;
		break;
	case OPT_SNAPSHOT_INTERVAL:
		if (kvd_parse_uint(val, 0, 100ULL * 365 * 86400, &v) < 0)
			return bad_opt("--snapshot-interval", val,
				       "seconds, 0 for never");
		c->snapshot_interval = v;
		break;
	case OPT_SNAPSHOT_WRITES:
		if (kvd_parse_uint(val, 0, UINT64_MAX >> 1, &v) < 0)
			return bad_opt("--snapshot-writes", val,
				       "a count, 0 for never");
		c->snapshot_writes = v;
		break;
	case OPT_SNAPSHOT_KEEP:
		if (kvd_parse_uint(val, 1, 100, &v) < 0)
			return bad_opt("--snapshot-keep", val, "1..100");
		c->snapshot_keep = (unsigned int)v;
		break;
	case OPT_LOAD_THREADS:
		if (kvd_parse_uint(val, 0, 16, &v) < 0)
			return bad_opt("--load-threads", val,
				       "0..16, 0 for one per online CPU");
		c->load_threads = (unsigned int)v;
		break;
	case OPT_READER_REVOKE_MS:
		/* Below 100 ms, reads that are merely long (a big MGET, a
		 * scan of a large shard) would be revoked again and again. */
		if (kvd_parse_uint(val, 0, 3600000, &v) < 0 ||
		    (v && v < 100))
			return bad_opt("--reader-revoke-ms", val,
				       "100..3600000, or 0 for never");
		c->reader_revoke_ms = (uint32_t)v;
		break;
	case OPT_SPIN_US:
		if (kvd_parse_uint(val, 0, 1000, &v) < 0)
			return bad_opt("--spin-us", val, "0..1000");
		c->spin_us = (uint32_t)v;
		break;
	case OPT_SNAPSHOT_ON_STOP:
		if (strcmp(val, "yes") != 0 && strcmp(val, "no") != 0)
			return bad_opt("--snapshot-on-stop", val, "yes or no");
		c->snapshot_on_stop = strcmp(val, "yes") == 0;
		break;
	case OPT_FOREGROUND:
		c->foreground = true;
		break;
	case OPT_LOG_LEVEL:
		if ((c->log_level = kvd_log_level_parse(val)) < 0)
			return bad_opt("--log-level", val,
				       "error, warning, notice, info or debug");
		break;
	case OPT_LOG_FILE:
		if (!*val || strlen(val) >= sizeof(c->log_file))
			return bad_opt("--log-file", val,
				       "a path of 1 to 4095 bytes");
		snprintf(c->log_file, sizeof(c->log_file), "%s", val);
		break;
	case OPT_PIDFILE:
		if (!*val)
			return bad_opt("--pidfile", val, "a path is needed");
		p->pidfile = val;
		break;
	case OPT_GROUP:
		if (kvd_access_set_group(&c->access, val, &why) < 0)
			return bad_opt("--group", val, why);
		break;
	case OPT_DATA_MODE:
	case OPT_RW_MODE:
	case OPT_SOCKET_MODE:
		if (kvd_access_set_mode(o == OPT_DATA_MODE ? &c->access.data_mode :
					o == OPT_RW_MODE ? &c->access.rw_mode :
					&c->access.socket_mode, val,
					o == OPT_DATA_MODE, &why) < 0)
			return bad_opt(o == OPT_DATA_MODE ? "--data-mode" :
				       o == OPT_RW_MODE ? "--rw-mode" :
				       "--socket-mode", val, why);
		break;
	case OPT_WRITERS:
		if (kvd_access_set_writers(&c->access, val, &why) < 0)
			return bad_opt("--writers", val, why);
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

/*
 * load_config - apply a configuration file: one "key value" per line,
 * keys named as the long options (memory, max-key, ...), "foreground yes"
 * or "no"; blank lines and lines starting with '#' are ignored. An
 * unknown key or a bad value is an error naming the file and line.
 */
static int load_config(struct kvd_config *c, struct paths *p, const char *file)
{
	char line[4096];
	unsigned int no = 0;
	FILE *f = fopen(file, "r");
	int rc = 0;

	if (!f) {
		opt_error("cannot read configuration '%s': %s", file,
			  strerror(errno));
		return -EINVAL;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *key = line, *val, *end;
		const struct option *op;

		no++;
		snprintf(opt_where, sizeof(opt_where), "%s:%u: ", file, no);
		if (!strchr(line, '\n') && !feof(f)) {
			opt_error("%sline too long", opt_where);
			rc = -EINVAL;
			break;
		}
		while (*key == ' ' || *key == '\t')
			key++;
		end = key + strcspn(key, "\r\n");
		while (end > key && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
		if (*key == '\0' || *key == '#')
			continue;
		val = key + strcspn(key, " \t");
		if (*val) {
			*val++ = '\0';
			while (*val == ' ' || *val == '\t')
				val++;
		}
		for (op = options; op->name; op++)
			if (strcmp(op->name, key) == 0 && op->val >= OPT_NAME &&
			    op->val != OPT_CONFIG && op->val != OPT_CHECK_CONFIG)
				break;
		if (!op->name) {
			opt_error("%sunknown key '%s'", opt_where, key);
			rc = -EINVAL;
		} else if (op->has_arg == no_argument) {
			if (strcmp(val, "yes") && strcmp(val, "no")) {
				rc = bad_opt(key, val, "yes or no");
			} else if (strcmp(val, "yes") == 0) {
				rc = set_opt(c, p, op->val, NULL);
			}
		} else if (*val == '\0') {
			rc = bad_opt(key, val, "a value is needed");
		} else {
			char *copy = strdup(val);	/* dir/sock may point here */
			char **o = realloc(p->owned,
					   (p->nowned + 1) * sizeof(*o));

			if (!copy || !o) {
				free(copy);
				if (o)
					p->owned = o;
				rc = -ENOMEM;
			} else {
				p->owned = o;
				p->owned[p->nowned++] = copy;
				rc = set_opt(c, p, op->val, copy);
			}
		}
	}
	fclose(f);
	opt_where[0] = '\0';
	return rc;
}

static void print_config(const struct kvd_config *c, const struct paths *p)
{
	printf("name %s\n", c->name);
	printf("data-dir %s\n", p->dir);
	if (p->sock)
		printf("socket %s\n", p->sock);
	else
		printf("socket %s/kvshmd.sock\n", p->dir);
	printf("memory %llu\n", (unsigned long long)c->memory);
	printf("shards %u\n", c->nshards);
	printf("max-key %u\n", c->max_key);
	printf("max-value %u\n", c->max_value);
	printf("max-readers %u\n", c->max_readers);
	printf("max-readers-per-client %u\n", c->max_readers_per_client);
	printf("max-entries %llu\n", (unsigned long long)c->max_entries);
	printf("eviction %s\n", kvd_policy_name(c->eviction));
	printf("eviction-samples %u\n", c->eviction_samples);
	printf("eviction-watermark %u\n", c->eviction_watermark);
	printf("persistence %s\n", c->persistence == KVD_PERSIST_WAL ? "wal" :
	       c->persistence == KVD_PERSIST_SNAPSHOT ? "snapshot" : "none");
	printf("fsync %s\n", kvd_fsync_name(c->fsync));
	printf("wal-segment-size %llu\n",
	       (unsigned long long)c->wal_segment_size);
	printf("snapshot-interval %llu\n",
	       (unsigned long long)c->snapshot_interval);
	printf("snapshot-writes %llu\n", (unsigned long long)c->snapshot_writes);
	printf("snapshot-keep %u\n", c->snapshot_keep);
	printf("snapshot-on-stop %s\n", c->snapshot_on_stop ? "yes" : "no");
	printf("load-threads %u\n", c->load_threads);
	printf("reader-revoke-ms %u\n", c->reader_revoke_ms);
	printf("spin-us %u\n", c->spin_us);
	printf("foreground %s\n", c->foreground ? "yes" : "no");
	printf("log-level %s\n", kvd_log_level_name(c->log_level));
	if (c->log_file[0])
		printf("log-file %s\n", c->log_file);
	else
		printf("# log-file: none, %s\n",
		       c->foreground ? "stderr" : "syslog");
	kvd_access_print(&c->access, stdout);
	if (p->pidfile)
		printf("pidfile %s\n", p->pidfile);
	else if (c->foreground)
		printf("# pidfile: none in the foreground unless set\n");
	else
		printf("pidfile %s/kvshmd.pid\n", p->dir);
}

/*
 * load_env - settings from the environment, between the configuration
 * file and the flags: KVSHM_ and the long option's name in capitals with
 * '_' for '-' (KVSHM_MEMORY, KVSHM_DATA_DIR, KVSHM_FSYNC...); a switch
 * takes yes or no. Errors name the variable. Return 0 or -EINVAL.
 */
static int load_env(struct kvd_config *c, struct paths *p)
{
	const struct option *op;
	int rc = 0;

	for (op = options; op->name && rc == 0; op++) {
		char var[64];
		const char *val;
		size_t i;

		if (op->val < OPT_NAME || op->val == OPT_CONFIG ||
		    op->val == OPT_CHECK_CONFIG)
			continue;
		snprintf(var, sizeof(var), "KVSHM_%s", op->name);
		for (i = 6; var[i]; i++)
			var[i] = var[i] == '-' ? '_' : (char)toupper(var[i]);
		val = getenv(var);
		if (!val)
			continue;
		snprintf(opt_where, sizeof(opt_where), "environment %s: ", var);
		if (op->has_arg == no_argument) {
			if (strcmp(val, "yes") && strcmp(val, "no"))
				rc = bad_opt(op->name, val, "yes or no");
			else if (strcmp(val, "yes") == 0)
				rc = set_opt(c, p, op->val, NULL);
		} else if (*val == '\0') {
			rc = bad_opt(op->name, val, "a value is needed");
		} else {
			rc = set_opt(c, p, op->val, val);
		}
	}
	opt_where[0] = '\0';
	return rc;
}

/* parse_args() proper; values from a configuration file live in @p. */
static int parse_args_paths(struct kvd_config *c, int argc, char **argv,
			    struct paths *p)
{
	const char *dir, *sock;
	int o;

	snprintf(c->name, sizeof(c->name), "default");
	kvd_access_defaults(&c->access);
	c->memory = 64ULL << 20;
	c->nshards = 256;
	c->max_key = 1024;
	c->max_value = 1U << 20;
	c->max_readers = 4096;
	c->eviction = KVD_POLICY_NOEVICTION;
	c->eviction_samples = 10;
	c->eviction_watermark = 2;
	c->persistence = KVD_PERSIST_WAL;
	c->fsync = KVD_FSYNC_EVERYSEC;
	c->wal_segment_size = 64ULL << 20;
	c->snapshot_interval = 3600;
	c->snapshot_writes = 1000000;
	c->snapshot_keep = 2;
	c->snapshot_on_stop = true;
	c->reader_revoke_ms = 10000;
	c->spin_us = 50;
	c->log_level = LOG_INFO;
	/* First pass: the configuration file, so that flags override it. */
	opterr = 0;
	optind = 0;				/* again on SIGHUP */
	while ((o = getopt_long(argc, argv, "hV", options, NULL)) != -1)
		if (o == OPT_CONFIG && load_config(c, p, optarg) < 0)
			return -EINVAL;
	/* Then the environment, which flags override too. */
	if (load_env(c, p) < 0)
		return -EINVAL;
	opterr = 1;
	optind = 0;
	while ((o = getopt_long(argc, argv, "hV", options, NULL)) != -1) {
		switch (o) {
		case OPT_CONFIG:
			break;			/* read in the first pass */
		case OPT_CHECK_CONFIG:
			p->check_only = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("kvshmd %s\n", KVD_VERSION);
			return 1;
		default:
			if (o >= OPT_NAME) {
				if (set_opt(c, p, o, optarg) < 0)
					return -EINVAL;
				break;
			}
			fprintf(stderr, "Try 'kvshmd --help' for more information.\n");
			return -EINVAL;
		}
	}
	dir = p->dir;
	sock = p->sock;
	if (c->max_readers_per_client == 0 ||
	    c->max_readers_per_client > c->max_readers)
		c->max_readers_per_client = c->max_readers_per_client ?
			c->max_readers : c->max_readers / 2;
	if (optind < argc) {
		fprintf(stderr, "kvshmd: unexpected argument '%s'\n", argv[optind]);
		fprintf(stderr, "Try 'kvshmd --help' for more information.\n");
		return -EINVAL;
	}
	if (c->memory / KVA_PAGE_SIZE < 4ULL * c->nshards / 512 + 8) {
		char mem[32];

		snprintf(mem, sizeof(mem), "%lluK",
			 (unsigned long long)(c->memory >> 10));
		return bad_opt("--memory", mem, "too small for the shard count");
	}
	if (p->check_only) {
		print_config(c, p);
		return 1;
	}
	if (p->reload) {
		/* Compared with the running one only: a directory that is
		 * not there is a change, for the next start to create. */
		if (!realpath(dir, c->data_dir))
			snprintf(c->data_dir, sizeof(c->data_dir), "%s", dir);
	} else {
		if (mkdir(dir, 0750) == 0) {
			/* A directory we made takes --group, so that the
			 * group reaches the socket in it. */
			if (kvd_access_chgrp(&c->access, -1, dir) < 0) {
				fprintf(stderr, "kvshmd: cannot give data "
					"directory '%s' group %u: %s\n", dir,
					(unsigned int)c->access.group,
					strerror(errno));
				return -EINVAL;
			}
		} else if (errno != EEXIST) {
			fprintf(stderr, "kvshmd: cannot create data directory "
				"'%s': %s\n", dir, strerror(errno));
			return -EINVAL;
		}
		if (!realpath(dir, c->data_dir)) {
			fprintf(stderr, "kvshmd: data directory '%s': %s\n", dir,
				strerror(errno));
			return -EINVAL;
		}
	}
	if (sock && sock[0] != '/') {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(c->socket_path, sizeof(c->socket_path), "%s/%s",
				     cwd, sock) >= sizeof(c->socket_path))
			return bad_opt("--socket", sock, "path too long (max 107)");
	} else if ((size_t)snprintf(c->socket_path, sizeof(c->socket_path), "%s",
				    sock ? sock : "") >= sizeof(c->socket_path) ||
		   (!sock && (size_t)snprintf(c->socket_path,
					      sizeof(c->socket_path),
					      "%s/kvshmd.sock", c->data_dir) >=
			    sizeof(c->socket_path))) {
		return bad_opt("--socket", sock ? sock : c->data_dir,
			       "socket path too long (max 107 bytes); use --socket");
	}
	if (p->pidfile && p->pidfile[0] != '/') {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(c->pidfile, sizeof(c->pidfile), "%s/%s", cwd,
				     p->pidfile) >= sizeof(c->pidfile))
			return bad_opt("--pidfile", p->pidfile, "path too long");
	} else if (p->pidfile) {
		snprintf(c->pidfile, sizeof(c->pidfile), "%s", p->pidfile);
	} else if (!c->foreground &&
		   (size_t)snprintf(c->pidfile, sizeof(c->pidfile),
				    "%.4080s/kvshmd.pid", c->data_dir) >=
			   sizeof(c->pidfile)) {
		return bad_opt("--data-dir", c->data_dir, "path too long");
	}
	c->no_membarrier = getenv("KVSHMD_NO_MEMBARRIER") &&
			   strcmp(getenv("KVSHMD_NO_MEMBARRIER"), "1") == 0;
	return 0;
}

/*
 * Return 0 to run, 1 to exit 0 (help/version/check), -EINVAL to exit 1.
 * @reload: again on SIGHUP, errors to the log, nothing created.
 */
static int parse_args(struct kvd_config *c, int argc, char **argv,
		      bool reload)
{
	struct paths p = { .dir = ".", .reload = reload };
	size_t i;
	int rc;

	opt_to_log = reload;
	rc = parse_args_paths(c, argc, argv, &p);
	opt_to_log = false;
	for (i = 0; i < p.nowned; i++)
		free(p.owned[i]);
	free(p.owned);
	return rc;
}

/* The command line kvshmd started with, for SIGHUP. */
static int start_argc;
static char **start_argv;

/*
 * reread_config - SIGHUP (struct kvd's reread_config): the same files,
 * environment and flags as at start, parsed the same way. kvshmd never
 * changes its own environment, so getenv() still sees the one it started
 * with.
 */
static int reread_config(struct kvd_config *c)
{
	memset(c, 0, sizeof(*c));
	return parse_args(c, start_argc, start_argv, true) ? -EINVAL : 0;
}

/*
 * Detach: the launching process waits until the daemon reports it serves
 * (one byte on a pipe) and exits 0, or exits 1 if the pipe closes first.
 * Return the write end of the pipe in the daemon.
 */
static int daemonize(void)
{
	int p[2], fd;
	pid_t pid;
	char b;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		waitpid(pid, NULL, 0);
		_exit(read(p[0], &b, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return p[1];
}

/*
 * Persistence at start-up: lock the data directory (two daemons must
 * never write one WAL), rebuild the table from it, then open the WAL and
 * start the snapshot thread. Before the segment is published, so no
 * client sees a half-loaded cache.
 */
static int persist_start(struct kvd *d)
{
	const struct kvd_config *c = &d->cfg;
	uint64_t next_lsn = 1;
	char path[4200];
	int rc;

	d->data_lock_fd = -1;
	if (c->persistence == KVD_PERSIST_NONE)
		return 0;
	snprintf(path, sizeof(path), "%s/kvshmd.lock", c->data_dir);
	d->data_lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->data_lock_fd < 0 || flock(d->data_lock_fd, LOCK_EX | LOCK_NB) < 0) {
		rc = -errno;
		kvd_log(LOG_ERR, "event=start_failed dir=%s reason=\"%s\"",
			c->data_dir, rc == -EWOULDBLOCK ?
			"another kvshmd uses this data directory" :
			strerror(-rc));
		return rc;
	}
	rc = kvd_recover(d, c->data_dir, &next_lsn);
	if (rc < 0)
		return rc;
	if (c->persistence == KVD_PERSIST_WAL) {
		rc = kvd_wal_open(&d->wal, c->data_dir, next_lsn, c->fsync,
				  c->wal_segment_size, &d->version);
		if (rc < 0) {
			kvd_log(LOG_ERR, "event=start_failed dir=%s op=wal_open "
				"errno=%d (%s)", c->data_dir, -rc, strerror(-rc));
			return rc;
		}
		kvd_wal_attach(d->wal, &d->hooks);
	}
	rc = kvd_snap_init(&d->snap, d, c->snapshot_interval,
			   c->snapshot_writes, c->snapshot_keep);
	if (rc < 0)
		kvd_log(LOG_ERR, "event=start_failed op=snapshot_thread errno=%d",
			-rc);
	return rc;
}

/* A start that failed: release what persist_start() took, write nothing. */
static void persist_stop_early(struct kvd *d)
{
	kvd_snap_destroy(d->snap);
	kvd_wal_close(d->wal);
	if (d->data_lock_fd >= 0)
		close(d->data_lock_fd);
}

/* At a stop, after the last write: snapshot if asked, close the WAL. */
static void persist_stop(struct kvd *d)
{
	if (d->wal)
		kvd_wal_commit(d->wal);
	if (d->snap && d->cfg.snapshot_on_stop)
		kvd_snap_write_now(d->snap);
	kvd_snap_destroy(d->snap);
	kvd_wal_close(d->wal);
	if (d->data_lock_fd >= 0)
		close(d->data_lock_fd);
}

static int write_pidfile(const char *path)
{
	char buf[32];
	int fd, n, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) != n)
		rc = errno ? -errno : -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		unlink(path);
	return rc;
}

static void block_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);	/* until blocked: the server reads it */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int main(int argc, char **argv)
{
	static struct kvd d;
	int rc, ready_fd = -1;

	rc = parse_args(&d.cfg, argc, argv, false);
	if (rc)
		return rc > 0 ? 0 : 1;
	start_argc = argc;
	start_argv = argv;
	d.reread_config = reread_config;
	/* Before detaching, so that a bad path is said on stderr. */
	if (d.cfg.log_file[0] && (rc = kvd_log_set_file(d.cfg.log_file)) < 0) {
		fprintf(stderr, "kvshmd: cannot open log file '%s': %s\n",
			d.cfg.log_file, strerror(-rc));
		return 1;
	}
	kvd_log_set_level(d.cfg.log_level);
	if (!d.cfg.foreground) {
		ready_fd = daemonize();
		if (ready_fd < 0) {
			fprintf(stderr, "kvshmd: cannot detach: %s\n",
				strerror(-ready_fd));
			return 1;
		}
	}
	kvd_log_init(d.cfg.foreground);
	block_signals();
	d.start_mono_ms = kvs_mono_ms();
	d.membarrier = !d.cfg.no_membarrier && kvs_membarrier_query();

	rc = kvd_segment_create(&d);
	if (rc < 0)
		return 1;
	/* After the name lock: a pidfile names the daemon that serves. */
	if (d.cfg.pidfile[0] && (rc = write_pidfile(d.cfg.pidfile)) < 0) {
		kvd_log(LOG_ERR, "event=start_failed file=%s errno=%d (%s)",
			d.cfg.pidfile, -rc, strerror(-rc));
		d.cfg.pidfile[0] = '\0';
		goto err_seg;
	}
	rc = kva_init(&d.heap, d.seg.base, d.hdr->heap_off, d.hdr->heap_size);
	if (rc < 0)
		goto err_seg;
	d.hints.words = kvs_rw_hints(d.seg.rw, d.cfg.max_readers);
	d.hints.nwords = d.hdr->nhints;
	kva_set_release(d.heap, kvd_hints_release, &d.hints);
	rc = kvd_reclaim_init(&d.rc, d.hdr, kvs_rw_slots(d.seg.rw),
			      d.cfg.max_readers, d.heap, d.membarrier,
			      d.cfg.reader_revoke_ms);
	if (rc < 0)
		goto err_heap;
	rc = kvd_index_init(&d.index, d.seg.base, d.seg.size, d.heap, d.rc);
	if (rc < 0)
		goto err_reclaim;
	d.index.hints = &d.hints;
	d.index.max_entries = d.cfg.max_entries;
	kvd_stats_attach(&d.stats, &d.hooks);
	rc = persist_start(&d);
	if (rc < 0) {
		persist_stop_early(&d);
		goto err_index;
	}
	/*
	 * After recovery, which loads the table without events: the expiry
	 * index and the sieve queue are built from the table, and from here
	 * on the hooks keep them. If recovery built no item with an expiry,
	 * the expiry index is empty as it starts: no walk over every item
	 * (a page fault per page of items, and a hash per key) is needed.
	 */
	rc = kvd_expiry_init(&d.ex, &d);
	if (rc == 0)
		rc = kvd_evict_init(&d.ev, &d);
	if (rc == 0 && __atomic_load_n(&d.loaded_expiring, __ATOMIC_RELAXED))
		rc = kvd_expiry_rebuild(d.ex);
	if (rc == 0)
		rc = kvd_expiry_start(d.ex);
	if (rc == 0)
		rc = kvd_evict_start(d.ev);
	if (rc < 0) {
		kvd_evict_destroy(d.ev);
		kvd_expiry_destroy(d.ex);
		persist_stop_early(&d);
		goto err_index;
	}
	kvd_segment_publish(&d);

	rc = kvd_server_run(&d, ready_fd);
	/*
	 * The sweep and the evictor stop before the WAL's last commit (their
	 * events are logged) and before either module goes away: the sweep's
	 * events reach the evictor's hook, and the evictor reads the expiry
	 * index.
	 */
	kvd_evict_stop(d.ev);
	kvd_expiry_stop(d.ex);
	persist_stop(&d);
	kvd_evict_destroy(d.ev);
	kvd_expiry_destroy(d.ex);
	d.ev = NULL;
	d.ex = NULL;
err_index:
	kvd_index_destroy(&d.index);
err_reclaim:
	kvd_reclaim_destroy(d.rc);
err_heap:
	kva_destroy(d.heap);
err_seg:
	kvd_segment_destroy(&d);
	if (d.cfg.pidfile[0])
		unlink(d.cfg.pidfile);
	if (rc < 0) {
		kvd_log(LOG_ERR, "event=exit status=1 errno=%d (%s)", -rc,
			strerror(-rc));
		return 1;
	}
	kvd_log(LOG_INFO, "event=exit status=0");
	return 0;
}
