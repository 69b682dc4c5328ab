// SPDX-License-Identifier: MIT
/*
 * daemon/config.c - settings that can be read and changed while kvshmd
 * runs: the CONFIG_GET and CONFIG_SET ops (kvshmctl config get|set), and
 * the reload of the whole configuration on SIGHUP.
 *
 * CONFIG_SET changes eviction, eviction-samples, eviction-watermark (the
 * owning module applies them; see evict.h). A reload applies those and
 * the log level and file, fsync, the snapshot schedule, and the limits
 * that grow; every other difference is logged as needing a restart.
 * Names and value syntax are those of the command line and of
 * kvshmd.conf(5). Runs on the server thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvshmd.h"
#include "log.h"
#include "notify.h"
#include "snapshot.h"

int kvd_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A value @v, @vlen bytes, as an integer in [lo, hi]; -EINVAL if not. */
static int parse_u32(const char *v, size_t vlen, uint32_t lo, uint32_t hi,
		     uint32_t *out)
{
	uint64_t n = 0;
	size_t i;

	if (vlen == 0 || vlen > 10)
		return -EINVAL;
	for (i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (n < lo || n > hi)
		return -EINVAL;
	*out = (uint32_t)n;
	return 0;
}

static bool key_is(const char *k, size_t klen, const char *name)
{
	return klen == strlen(name) && memcmp(k, name, klen) == 0;
}

int kvd_config_set(struct kvd *d, const char *k, size_t klen, const char *v,
		   size_t vlen)
{
	char val[64];
	uint32_t n;
	int rc = -EINVAL, p;

	if (vlen >= sizeof(val) || memchr(v, '\0', vlen))
		goto out;
	memcpy(val, v, vlen);
	val[vlen] = '\0';
	if (key_is(k, klen, "eviction")) {
		p = kvd_policy_parse(val);
		if (p >= 0)
			rc = kvd_evict_set_policy(d->ev, (enum kvd_policy)p);
	} else if (key_is(k, klen, "eviction-samples")) {
		if (parse_u32(v, vlen, 1, 64, &n) == 0)
			rc = kvd_evict_set_samples(d->ev, n);
	} else if (key_is(k, klen, "eviction-watermark")) {
		if (parse_u32(v, vlen, 0, 50, &n) == 0)
			rc = kvd_evict_set_watermark(d->ev, n);
	} else {
		rc = -ENOENT;		/* not a key that can change */
	}
out:
	kvd_log(rc ? LOG_WARNING : LOG_INFO,
		"event=config_set key=%.*s value=%.*s result=%s",
		(int)(klen > 64 ? 64 : klen), k, (int)(vlen > 64 ? 64 : vlen),
		v, rc == 0 ? "ok" : rc == -ENOENT ? "unknown_key" : "bad_value");
	return rc == -ENOENT ? -EINVAL : rc;
}

static const char *persistence_name(enum kvd_persistence p)
{
	return p == KVD_PERSIST_WAL ? "wal" :
	       p == KVD_PERSIST_SNAPSHOT ? "snapshot" : "none";
}

char *kvd_config_text(struct kvd *d, size_t *len)
{
	char *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);

	if (!f)
		return NULL;
	fprintf(f, "name %s\n", d->cfg.name);
	fprintf(f, "memory %" PRIu64 "\n", d->cfg.memory);
	fprintf(f, "max-key %u\n", d->cfg.max_key);
	fprintf(f, "max-value %u\n", d->cfg.max_value);
	fprintf(f, "max-entries %" PRIu64 "\n", d->cfg.max_entries);
	fprintf(f, "max-readers-per-client %u\n",
		d->cfg.max_readers_per_client);
	fprintf(f, "eviction %s\n", kvd_policy_name(kvd_evict_policy(d->ev)));
	fprintf(f, "eviction-samples %u\n", kvd_evict_samples(d->ev));
	fprintf(f, "eviction-watermark %u\n", kvd_evict_watermark(d->ev));
	fprintf(f, "persistence %s\n", persistence_name(d->cfg.persistence));
	fprintf(f, "fsync %s\n", kvd_fsync_name(d->cfg.fsync));
	fprintf(f, "snapshot-interval %" PRIu64 "\n", d->cfg.snapshot_interval);
	fprintf(f, "snapshot-writes %" PRIu64 "\n", d->cfg.snapshot_writes);
	fprintf(f, "snapshot-keep %u\n", d->cfg.snapshot_keep);
	fprintf(f, "snapshot-on-stop %s\n",
		d->cfg.snapshot_on_stop ? "yes" : "no");
	fprintf(f, "reader-revoke-ms %u\n", d->cfg.reader_revoke_ms);
	fprintf(f, "spin-us %u\n", d->cfg.spin_us);
	fprintf(f, "log-level %s\n", kvd_log_level_name(d->cfg.log_level));
	if (d->cfg.log_file[0])
		fprintf(f, "log-file %s\n", d->cfg.log_file);
	if (fclose(f) != 0) {
		free(p);
		return NULL;
	}
	*len = n;
	return p;
}

/* ---- SIGHUP ---- */

/* What a reload changed, for its one summary line. */
struct reload {
	char done[1024];		/* " key=value" of each change */
	size_t dlen;
	char later[512];		/* ",key" of each restart-only one */
	size_t llen;
};

__attribute__((format(printf, 2, 3)))
static void changed(struct reload *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->dlen + 2 >= sizeof(r->done))
		return;
	r->done[r->dlen++] = ' ';
	va_start(ap, fmt);
	n = vsnprintf(r->done + r->dlen, sizeof(r->done) - r->dlen, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->dlen += (size_t)n;
	if (r->dlen >= sizeof(r->done))
		r->dlen = sizeof(r->done) - 1;
}

/* @key differs but cannot change while kvshmd runs: one warning line. */
static void needs_restart(struct reload *r, const char *key,
			  const char *running, const char *configured)
{
	int n;

	if (strcmp(running, configured) == 0)
		return;
	kvd_log(LOG_WARNING, "event=config_needs_restart key=%s running=\"%s\" "
		"configured=\"%s\" reason=\"only a restart applies it\"",
		key, running, configured);
	n = snprintf(r->later + r->llen, sizeof(r->later) - r->llen, "%s%s",
		     r->llen ? "," : "", key);
	if (n > 0 && r->llen + (size_t)n < sizeof(r->later))
		r->llen += (size_t)n;
}

static void needs_restart_u64(struct reload *r, const char *key,
			      uint64_t running, uint64_t configured)
{
	char a[24], b[24];

	snprintf(a, sizeof(a), "%" PRIu64, running);
	snprintf(b, sizeof(b), "%" PRIu64, configured);
	needs_restart(r, key, a, b);
}

/*
 * The settings fixed at start: their values are in the segment's layout,
 * the files or sockets already open, or the identity clients attach by.
 */
static void check_fixed(struct reload *r, const struct kvd_config *run,
			const struct kvd_config *nc)
{
	/* Access control: the objects exist with their group and modes, and
	 * each connection's write right was decided when it connected. */
	static const char *const access_keys[] = {
		"group", "data-mode", "rw-mode", "socket-mode", "writers",
	};
	size_t i;

	needs_restart(r, "name", run->name, nc->name);
	needs_restart(r, "data-dir", run->data_dir, nc->data_dir);
	needs_restart(r, "socket", run->socket_path, nc->socket_path);
	needs_restart(r, "pidfile", run->pidfile, nc->pidfile);
	needs_restart_u64(r, "memory", run->memory, nc->memory);
	needs_restart_u64(r, "shards", run->nshards, nc->nshards);
	needs_restart_u64(r, "max-readers", run->max_readers, nc->max_readers);
	needs_restart_u64(r, "reader-revoke-ms", run->reader_revoke_ms,
			  nc->reader_revoke_ms);
	needs_restart_u64(r, "spin-us", run->spin_us, nc->spin_us);
	needs_restart(r, "persistence", persistence_name(run->persistence),
		      persistence_name(nc->persistence));
	needs_restart_u64(r, "wal-segment-size", run->wal_segment_size,
			  nc->wal_segment_size);
	needs_restart(r, "foreground", run->foreground ? "yes" : "no",
		      nc->foreground ? "yes" : "no");
	for (i = 0; i < sizeof(access_keys) / sizeof(access_keys[0]); i++) {
		char a[KVD_MAX_WRITERS * 12 + 8], b[sizeof(a)];

		kvd_access_value(&run->access, access_keys[i], a, sizeof(a));
		kvd_access_value(&nc->access, access_keys[i], b, sizeof(b));
		needs_restart(r, access_keys[i], a, b);
	}
}

/*
 * Limits only grow live: a client may hold data, or be about to send a
 * request, that the smaller limit would refuse. The daemon's own check
 * (d->cfg) is raised before the segment header that clients read, so a
 * client never sees a limit the daemon does not accept yet; the server
 * thread, which runs this, checks requests only after it returns.
 * 0 max-entries means no limit: the largest.
 */
static void grow_limits(struct kvd *d, struct reload *r,
			const struct kvd_config *nc)
{
	struct kvd_config *c = &d->cfg;
	uint64_t old_e = c->max_entries, new_e = nc->max_entries;
	uint32_t per_client = nc->max_readers_per_client;

	if (new_e != old_e) {
		if (old_e && (!new_e || new_e > old_e)) {
			c->max_entries = new_e;
			d->index.max_entries = new_e;
			__atomic_store_n(&d->hdr->max_entries, new_e,
					 __ATOMIC_RELAXED);
			changed(r, "max-entries=%" PRIu64, new_e);
		} else {
			needs_restart_u64(r, "max-entries", old_e, new_e);
		}
	}
	if (nc->max_value > c->max_value) {
		c->max_value = nc->max_value;
		__atomic_store_n(&d->hdr->max_value, nc->max_value,
				 __ATOMIC_RELAXED);
		changed(r, "max-value=%u", nc->max_value);
	} else {
		needs_restart_u64(r, "max-value", c->max_value, nc->max_value);
	}
	if (nc->max_key > c->max_key) {
		c->max_key = nc->max_key;
		__atomic_store_n(&d->hdr->max_key, nc->max_key,
				 __ATOMIC_RELAXED);
		changed(r, "max-key=%u", nc->max_key);
	} else {
		needs_restart_u64(r, "max-key", c->max_key, nc->max_key);
	}
	/* Derived from a max-readers that only a restart applies. */
	if (per_client > c->max_readers)
		per_client = c->max_readers;
	if (per_client > c->max_readers_per_client) {
		c->max_readers_per_client = per_client;
		changed(r, "max-readers-per-client=%u", per_client);
	} else {
		needs_restart_u64(r, "max-readers-per-client",
				  c->max_readers_per_client, per_client);
	}
}

static void apply_snapshot(struct kvd *d, struct reload *r,
			   const struct kvd_config *nc)
{
	struct kvd_config *c = &d->cfg;

	if (nc->snapshot_interval != c->snapshot_interval)
		changed(r, "snapshot-interval=%" PRIu64, nc->snapshot_interval);
	if (nc->snapshot_writes != c->snapshot_writes)
		changed(r, "snapshot-writes=%" PRIu64, nc->snapshot_writes);
	if (nc->snapshot_keep != c->snapshot_keep)
		changed(r, "snapshot-keep=%u", nc->snapshot_keep);
	if (nc->snapshot_on_stop != c->snapshot_on_stop)
		changed(r, "snapshot-on-stop=%s",
			nc->snapshot_on_stop ? "yes" : "no");
	c->snapshot_interval = nc->snapshot_interval;
	c->snapshot_writes = nc->snapshot_writes;
	c->snapshot_keep = nc->snapshot_keep;
	c->snapshot_on_stop = nc->snapshot_on_stop;	/* read at stop */
	if (d->snap)
		kvd_snap_set_schedule(d->snap, c->snapshot_interval,
				      c->snapshot_writes, c->snapshot_keep);
}

/*
 * The eviction settings compare with what runs, which CONFIG_SET may
 * have changed since the start: a reload makes them what the
 * configuration says, as a restart would. A new policy can fail for
 * memory (the sieve queue); the old one then stays.
 */
static void apply_eviction(struct kvd *d, struct reload *r,
			   const struct kvd_config *nc)
{
	int rc;

	if (nc->eviction != kvd_evict_policy(d->ev)) {
		rc = kvd_evict_set_policy(d->ev, nc->eviction);
		if (rc == 0)
			changed(r, "eviction=%s",
				kvd_policy_name(nc->eviction));
		else
			kvd_log(LOG_ERR, "event=reload_incomplete key=eviction "
				"value=%s errno=%d (%s) action=keep_policy",
				kvd_policy_name(nc->eviction), -rc,
				strerror(-rc));
	}
	if (nc->eviction_samples != kvd_evict_samples(d->ev) &&
	    kvd_evict_set_samples(d->ev, nc->eviction_samples) == 0)
		changed(r, "eviction-samples=%u", nc->eviction_samples);
	if (nc->eviction_watermark != kvd_evict_watermark(d->ev) &&
	    kvd_evict_set_watermark(d->ev, nc->eviction_watermark) == 0)
		changed(r, "eviction-watermark=%u", nc->eviction_watermark);
}

/*
 * apply - make the running daemon match @nc as far as it can live. The
 * log file goes first: it is the one step that can fail for reasons the
 * parser could not see (a directory that is not there), and failing it
 * leaves everything as it was.
 */
static int apply(struct kvd *d, const struct kvd_config *nc,
		 struct reload *r)
{
	struct kvd_config *c = &d->cfg;
	int rc;

	if (strcmp(nc->log_file, c->log_file) != 0) {
		rc = kvd_log_set_file(nc->log_file);
		if (rc < 0) {
			kvd_log(LOG_ERR, "event=reload_failed error=\"cannot "
				"open log file '%s': %s\" "
				"action=keep_running_config", nc->log_file,
				strerror(-rc));
			return rc;
		}
		snprintf(c->log_file, sizeof(c->log_file), "%s", nc->log_file);
		changed(r, "log-file=\"%s\"", c->log_file);
	}
	if (nc->log_level != c->log_level) {
		c->log_level = nc->log_level;
		kvd_log_set_level(c->log_level);
		changed(r, "log-level=%s", kvd_log_level_name(c->log_level));
	}
	if (nc->fsync != c->fsync) {
		/* Replies held for an fsync=always sync are let go by the
		 * server once the WAL no longer holds replies. */
		c->fsync = nc->fsync;
		if (d->wal)
			kvd_wal_set_fsync(d->wal, c->fsync);
		changed(r, "fsync=%s", kvd_fsync_name(c->fsync));
	}
	apply_eviction(d, r, nc);
	apply_snapshot(d, r, nc);
	grow_limits(d, r, nc);
	check_fixed(r, c, nc);
	return 0;
}

int kvd_config_reload(struct kvd *d)
{
	struct kvd_config *nc = calloc(1, sizeof(*nc));
	struct reload r = { .dlen = 0 };
	int rc;

	kvd_notify_reloading();
	/* First, so that logrotate's new file gets this reload's lines. */
	rc = kvd_log_reopen();
	if (rc < 0)
		kvd_log(LOG_ERR, "event=log_reopen_failed file=\"%s\" errno=%d "
			"(%s) action=keep_old_file", d->cfg.log_file, -rc,
			strerror(-rc));
	if (!nc) {
		rc = -ENOMEM;
		kvd_log(LOG_ERR, "event=reload_failed errno=%d (%s) "
			"action=keep_running_config", -rc, strerror(-rc));
	} else {
		rc = d->reread_config(nc);	/* logs its errors */
		if (rc == 0)
			rc = apply(d, nc, &r);
	}
	if (rc == 0)
		kvd_log(LOG_INFO, "event=config_reloaded%s%s%s",
			r.dlen ? r.done : " changed=none",
			r.llen ? " restart_needed=" : "", r.later);
	kvd_notify_ready();
	free(nc);
	return rc;
}
