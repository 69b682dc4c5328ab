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

#include "alloc.h"
#include "hints.h"
#include "hooks.h"
#include "index.h"
#include "layout.h"
#include "reclaim.h"
#include "stats.h"

#define KVD_VERSION	PACKAGE_VERSION

struct kvd_config {
	char name[KVS_NAME_MAX + 1];
	char data_dir[4096];
	char socket_path[KVS_SOCKPATH_MAX];
	uint64_t memory;		/* heap bytes */
	uint32_t nshards;
	uint32_t max_key;
	uint32_t max_value;
	uint32_t max_readers;
	uint32_t max_readers_per_client;	/* slots one connection may hold */
	uint64_t max_entries;		/* 0 = no limit but memory */
	bool foreground;
	bool no_membarrier;		/* env KVSHMD_NO_MEMBARRIER=1 (tests) */
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
	bool membarrier;
	int64_t start_mono_ms;
};

/* segment.c */
int kvd_name_valid(const char *name);
uint32_t kvd_nhints(const struct kvd_config *c);
void kvd_layout(const struct kvd_config *c, uint64_t *shards_off,
		uint64_t *heap_off, uint64_t *size);
void kvd_header_init(struct kvs_header *h, const struct kvd_config *c,
		     uint64_t rw_size, bool membarrier);
int kvd_segment_create(struct kvd *d);
void kvd_segment_publish(struct kvd *d);
void kvd_segment_destroy(struct kvd *d);

/* exec.c: one function per op; each returns 0 or -errno. */
int kvd_exec_set(struct kvd *d, const void *key, size_t klen,
		 const void *val, size_t vlen, int64_t ttl_ms, unsigned flags);
int kvd_exec_del(struct kvd *d, const void *key, size_t klen);
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

struct kvd_kv {
	const void *key;
	size_t klen;
	const void *val;
	size_t vlen;
	int64_t ttl_ms;
};
int kvd_exec_mset(struct kvd *d, const struct kvd_kv *kv, uint32_t n);
int kvd_exec_mdel(struct kvd *d, const struct kvd_kv *kv, uint32_t n,
		  uint64_t *removed);

/* server.c */
int kvd_server_run(struct kvd *d, int ready_fd);

#endif /* KVD_KVSHMD_H */
