/* SPDX-License-Identifier: MIT */
/*
 * daemon/kvshmd.h - the daemon's configuration and the one structure that
 * wires its modules together (built in main.c, in one place).
 *
 * Daemon-private. Nothing here is ever placed in shared memory.
 */
#ifndef KVD_KVSHMD_H
#define KVD_KVSHMD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "access.h"
#include "alloc.h"
#include "evict.h"
#include "expiry.h"
#include "hints.h"
#include "hooks.h"
#include "index.h"
#include "layout.h"
#include "reclaim.h"
#include "stats.h"
#include "wal.h"

struct kvd_snap;

enum kvd_persistence {
	KVD_PERSIST_NONE,		/* a pure cache: nothing on disk */
	KVD_PERSIST_SNAPSHOT,		/* snapshots only (lose what changed
					 * since the last one at a crash) */
	KVD_PERSIST_WAL,		/* WAL + snapshots */
};

#define KVD_VERSION	PACKAGE_VERSION

struct kvd_config {
	char name[KVS_NAME_MAX + 1];
	char data_dir[4096];
	char socket_path[KVS_SOCKPATH_MAX];
	char pidfile[4096];		/* "" = none */
	uint64_t memory;		/* heap bytes */
	uint32_t nshards;
	uint32_t max_key;
	uint32_t max_value;
	uint32_t max_readers;
	uint32_t max_readers_per_client;	/* slots one connection may hold */
	uint64_t max_entries;		/* 0 = no limit but memory */
	enum kvd_persistence persistence;
	enum kvd_fsync fsync;
	uint64_t wal_segment_size;
	uint64_t snapshot_interval;	/* seconds, 0 = never */
	uint64_t snapshot_writes;	/* 0 = never */
	unsigned int snapshot_keep;
	bool snapshot_on_stop;
	unsigned int load_threads;	/* threads loading a snapshot at
					 * start; 0 = one per online CPU */
	uint32_t reader_revoke_ms;	/* revoke a section a grace period
					 * waited on this long; 0 = never */
	uint32_t spin_us;		/* the server thread polls this long
					 * after its last request before it
					 * sleeps; 0 = never */
	enum kvd_policy eviction;	/* at start; evict.c owns it after */
	uint32_t eviction_samples;	/* keys sampled per eviction */
	uint32_t eviction_watermark;	/* % of the heap kept free */
	bool foreground;
	struct kvd_access access;	/* owner group, modes, writers */
	bool no_membarrier;		/* env KVSHMD_NO_MEMBARRIER=1 (tests) */
	int log_level;			/* LOG_ERR..LOG_DEBUG */
	char log_file[4096];		/* "" = stderr or syslog */
};

/* The two shared-memory objects, as kvshmd maps them (read-write). */
struct kvd_segment {
	char shm_name[KVS_NAME_MAX + 16];
	char rw_name[KVS_NAME_MAX + 16];
	char *base;
	uint64_t size;
	char *rw;
	uint64_t rw_size;
	int lock_fd;			/* abstract socket: the name lock */
};

struct kvd {
	struct kvd_config cfg;
	struct kvd_segment seg;
	struct kvs_header *hdr;
	struct kva *heap;
	struct kvd_reclaim *rc;
	struct kvd_index index;
	struct kvd_hints hints;
	struct kvd_hooks hooks;
	struct kvd_stats stats;
	struct kvd_wal *wal;		/* NULL unless persistence=wal */
	struct kvd_snap *snap;		/* NULL if persistence=none */
	int data_lock_fd;		/* flock on DATA_DIR/kvshmd.lock */
	struct kvd_expiry *ex;		/* expiry index and sweep thread */
	struct kvd_evict *ev;		/* eviction policies and thread */
	bool membarrier;
	int64_t start_mono_ms;
	uint64_t version;		/* last item version given out; atomic
					 * (kvd_next_version()) */
	uint64_t loaded_expiring;	/* items with an expiry put in the
					 * table by recovery (atomic; an upper
					 * bound): 0 means none has one, and
					 * the expiry index starts empty
					 * without a walk of the table */
	/*
	 * SIGHUP: parse the configuration again as at start (the --config
	 * files, the environment, the flags) into @c, reporting errors in
	 * the log. Set by main.c. Return 0 or -EINVAL.
	 */
	int (*reread_config)(struct kvd_config *c);
};

/* segment.c */
int kvd_name_valid(const char *name);
uint64_t kvd_nhints(const struct kvd_config *c);
void kvd_layout(const struct kvd_config *c, uint64_t *shards_off,
		uint64_t *heap_off, uint64_t *size);
void kvd_header_init(struct kvs_header *h, const struct kvd_config *c,
		     uint64_t rw_size, bool membarrier);
int kvd_segment_create(struct kvd *d);
void kvd_segment_publish(struct kvd *d);
void kvd_segment_destroy(struct kvd *d);

/* exec.c: one function per op; each returns 0 or -errno. */
uint64_t kvd_next_version(struct kvd *d);
kvs_off_t kvd_item_build(struct kvd *d, const void *key, size_t klen,
			 const void *val, size_t vlen, int64_t exp,
			 uint64_t version);

/*
 * kvd_exec_remove - remove the key whose live item @r was found at @pos
 * (its shard locked by the caller), retire the item and emit @ev
 * (KVD_EV_DEL, _EXPIRE or _EVICT) through the hook table. The one way
 * keys leave the table, for exec, the expiry sweep and the evictor alike.
 */
void kvd_exec_remove(struct kvd *d, enum kvd_event ev, uint64_t hash,
		     const struct kvs_pos *pos, const struct kvs_iref *r);

int kvd_exec_set(struct kvd *d, const void *key, size_t klen,
		 const void *val, size_t vlen, int64_t ttl_ms, unsigned flags);
int kvd_exec_del(struct kvd *d, const void *key, size_t klen);
int kvd_exec_cas(struct kvd *d, const void *key, size_t klen,
		 const void *val, size_t vlen, int64_t ttl_ms,
		 uint64_t version, uint64_t *new_version);
int kvd_exec_casdel(struct kvd *d, const void *key, size_t klen,
		    uint64_t version);
int kvd_exec_expire(struct kvd *d, const void *key, size_t klen,
		    int64_t ttl_ms);
int kvd_exec_persist(struct kvd *d, const void *key, size_t klen);
int kvd_exec_incr(struct kvd *d, const void *key, size_t klen,
		  int64_t delta, int64_t *result);

/*
 * For ops that return the old value: exec copies it into @out (malloc()ed,
 * the server frees it) while the shard lock still keeps it alive.
 */
struct kvd_blob {
	char *p;
	size_t len;
	bool had;
};
int kvd_exec_append(struct kvd *d, const void *key, size_t klen,
		    const void *val, size_t vlen, uint64_t *newlen);
int kvd_exec_getdel(struct kvd *d, const void *key, size_t klen,
		    struct kvd_blob *out);
int kvd_exec_getset(struct kvd *d, const void *key, size_t klen,
		    const void *val, size_t vlen, int64_t ttl_ms,
		    struct kvd_blob *out);
int kvd_exec_flush(struct kvd *d, uint64_t *removed);

/*
 * One op of a multi-key request. The values of op and cond are those of
 * the public KVSHM_BATCH_* and KVSHM_NX/XX/IFVERSION (and of the frame).
 */
enum { KVD_OP_PUT = 1, KVD_OP_DEL = 2 };
enum { KVD_IF_ABSENT = 1, KVD_IF_PRESENT = 2, KVD_IF_VERSION = 4 };

struct kvd_kv {
	const void *key;
	size_t klen;
	const void *val;	/* KVD_OP_PUT */
	size_t vlen;
	int64_t ttl_ms;		/* KVD_OP_PUT: 0 = no expiry */
	uint64_t version;	/* KVD_IF_VERSION: 0 = the key must be absent */
	uint32_t op;		/* KVD_OP_* */
	uint32_t cond;		/* 0 or one KVD_IF_* */
};

/*
 * kvd_exec_batch - apply @n ops all or nothing, in request order.
 * @failed: set to the index of the op that failed the batch (a bad op,
 *          an unmet condition), or UINT32_MAX.
 * Return: 0, -EINVAL, -E2BIG, -EEXIST, -ENOENT, -ESTALE or -ENOMEM.
 */
int kvd_exec_batch(struct kvd *d, const struct kvd_kv *kv, uint32_t n,
		   uint32_t *failed);
/* MSET and MDEL: batches of puts or of deletes; they set op and cond. */
int kvd_exec_mset(struct kvd *d, struct kvd_kv *kv, uint32_t n);
int kvd_exec_mdel(struct kvd *d, struct kvd_kv *kv, uint32_t n,
		  uint64_t *removed);

struct kvp_ent;
#define KVD_NO_SHARD	UINT32_MAX
int kvd_exec_load(struct kvd *d, const struct kvp_ent *e, int64_t now,
		  bool absent, uint32_t *held);
void kvd_exec_load_done(struct kvd *d, uint32_t *held);
/*
 * kvd_exec_load_new - kvd_exec_load() with @absent true for the @n
 * entries @e (at most KVD_LOAD_RUN), their items and hint words taken
 * under one lock hold each and the key count raised once: what loaders
 * on several threads share is met once per run, not once per key.
 * With @st (one per loading thread; NULL: none), the items are written
 * into the segment through st->fd (see load_write() in exec.c); st->buf
 * is allocated on first use, and the caller frees it.
 */
#define KVD_LOAD_RUN	64
#define KVD_STAGE_BYTES	(64U << 10)
struct kvd_load_stage {
	int fd;				/* the data segment, read-write; -1:
					 * write through the mapping */
	char *buf;
	size_t cap;
};
int kvd_exec_load_new(struct kvd *d, const struct kvp_ent *e, size_t n,
		      int64_t now, uint32_t *held, struct kvd_load_stage *st);
/* config.c: @s, a NUL-terminated decimal, as an integer in [lo, hi]
 * (digits only: no sign, no spaces); 0 or -EINVAL. */
int kvd_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/*
 * config.c: settings changeable at run time (CONFIG_SET): eviction,
 * eviction-samples, eviction-watermark. Return 0 or -EINVAL (unknown key
 * or bad value; logged), -ENOMEM.
 */
int kvd_config_set(struct kvd *d, const char *key, size_t klen,
		   const char *val, size_t vlen);
/* "key value" lines of the effective settings; malloc()ed, NULL on OOM. */
char *kvd_config_text(struct kvd *d, size_t *len);
/*
 * kvd_config_reload - SIGHUP: reopen the log file, read the configuration
 * again (d->reread_config) and apply what can change live; warn about the
 * rest. A configuration with an error changes nothing. Server thread;
 * afterwards the server recomputes what it derives from d->cfg (the frame
 * size limit). Return 0 or -errno (logged).
 */
int kvd_config_reload(struct kvd *d);

/* server.c */
int kvd_server_run(struct kvd *d, int ready_fd);

#endif /* KVD_KVSHMD_H */
