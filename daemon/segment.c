// SPDX-License-Identifier: MIT
/*
 * daemon/segment.c - the two shared-memory objects: the name lock, their
 * creation and initialisation, the superseding of a dead daemon's segment,
 * and their removal at a clean stop.
 *
 * The name lock is an abstract Unix socket "@kvshm-lock-NAME" bound for the
 * daemon's life: binding is exclusive, the kernel drops it when the process
 * dies, and it leaves no file behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "atomic.h"
#include "clock.h"
#include "kvshmd.h"
#include "hint.h"
#include "log.h"

#define HEADER_AREA	4096	/* header page; shards follow it */

int kvd_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > KVS_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int name_lock(struct kvd *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, n;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "kvshm-lock-%s",
		     d->cfg.name);
	if (bind(fd, (struct sockaddr *)&sa,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0) {
		int e = errno;

		close(fd);
		return e == EADDRINUSE ? -EADDRINUSE : -e;
	}
	d->seg.lock_fd = fd;
	return 0;
}

/* A segment left by a daemon that died: tell its readers, then unlink. */
static void supersede_old(struct kvd *d)
{
	struct kvs_header *h;
	struct stat st;
	int fd;

	fd = shm_open(d->seg.shm_name, O_RDWR, 0);
	if (fd < 0)
		goto unlink;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(*h)) {
		h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED,
			 fd, 0);
		if (h != MAP_FAILED) {
			if (h->magic == KVS_MAGIC)
				kvs_store_release(&h->superseded, KVS_GONE_REPLACED);
			munmap(h, sizeof(*h));
		}
	}
	close(fd);
	kvd_log(LOG_WARNING, "event=stale_segment name=%s action=superseded",
		d->cfg.name);
unlink:
	shm_unlink(d->seg.shm_name);
	shm_unlink(d->seg.rw_name);
}

static int shm_make(const struct kvd_access *a, const char *name, mode_t mode,
		    uint64_t size, char **base)
{
	void *p;
	int fd, e;

	/*
	 * Owner-only until the group is set: permissions are checked at
	 * open, so an object briefly readable by the wrong group would let
	 * an fd opened then outlive the fix.
	 */
	fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (kvd_access_chgrp(a, fd, NULL) < 0 || fchmod(fd, mode) < 0 ||
	    ftruncate(fd, (off_t)size) < 0)
		goto err;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto err;
	close(fd);
	*base = p;
	return 0;
err:
	e = errno;
	close(fd);
	shm_unlink(name);
	return -e;
}

static uint64_t random_u64(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint64_t)kvs_mono_ms() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	return v ? v : 1;
}

/*
 * One access-hint word per 8 bytes of the segment: the word of every
 * bucket entry any array can have (kvs_hint_index()). The words are in
 * the rw object, whose pages cost memory only once touched: about the
 * words of the arrays that exist (see daemon/hints.h).
 */
uint64_t kvd_nhints(const struct kvd_config *c)
{
	uint64_t shards_off, heap_off, size;

	kvd_layout(c, &shards_off, &heap_off, &size);
	return size / 8;
}

void kvd_layout(const struct kvd_config *c, uint64_t *shards_off,
		uint64_t *heap_off, uint64_t *size)
{
	*shards_off = HEADER_AREA;
	*heap_off = *shards_off + (uint64_t)c->nshards * sizeof(struct kvs_shard);
	*heap_off = (*heap_off + KVA_PAGE_SIZE - 1) & ~(uint64_t)(KVA_PAGE_SIZE - 1);
	*size = *heap_off + c->memory;
}

void kvd_header_init(struct kvs_header *h, const struct kvd_config *c,
		     uint64_t rw_size, bool membarrier)
{
	uint64_t shards_off, heap_off, size;

	kvd_layout(c, &shards_off, &heap_off, &size);
	h->layout_version = KVS_LAYOUT_VERSION;
	h->flags = membarrier ? KVS_HDR_MEMBARRIER : 0;
	h->generation = random_u64();
	h->size = size;
	h->hash_seed = random_u64();
	h->shards_off = shards_off;
	h->nshards = c->nshards;
	h->shard_bits = (uint32_t)__builtin_ctz(c->nshards);
	h->heap_off = heap_off;
	h->heap_size = c->memory;
	h->rw_size = rw_size;
	h->nslots = c->max_readers;
	h->max_key = c->max_key;
	h->max_value = c->max_value;
	h->daemon_pid = getpid();
	h->start_time_ms = (uint64_t)kvs_now_ms();
	h->nhints = kvd_nhints(c);
	h->max_entries = c->max_entries;
	h->clock_tick = kvs_hint_ticks(kvs_now_ms());
	memcpy(h->socket_path, c->socket_path, sizeof(h->socket_path));
	h->global_epoch = 1;
}

/* Publish: magic is stored last, so a client never sees half a header. */
static void header_publish(struct kvd *d)
{
	struct kvs_rw_header *rh = (struct kvs_rw_header *)d->seg.rw;

	rh->layout_version = KVS_LAYOUT_VERSION;
	rh->generation = d->hdr->generation;
	rh->nslots = d->cfg.max_readers;
	rh->nhints = d->hdr->nhints;
	kvs_store_release(&rh->magic, KVS_RW_MAGIC);
	kvs_store_release(&d->hdr->magic, KVS_MAGIC);
}

int kvd_segment_create(struct kvd *d)
{
	const struct kvd_config *c = &d->cfg;
	uint64_t shards_off, heap_off;
	int rc;

	d->seg.lock_fd = -1;
	snprintf(d->seg.shm_name, sizeof(d->seg.shm_name), "/kvshm-%s", c->name);
	snprintf(d->seg.rw_name, sizeof(d->seg.rw_name), "/kvshm-%s.rw", c->name);
	rc = name_lock(d);
	if (rc == -EADDRINUSE) {
		kvd_log(LOG_ERR, "event=start_failed name=%s reason=\"name '%s' "
			"is already served by another kvshmd\"", c->name, c->name);
		return rc;
	}
	if (rc < 0) {
		kvd_log(LOG_ERR, "event=start_failed reason=name_lock errno=%d (%s)",
			-rc, strerror(-rc));
		return rc;
	}
	supersede_old(d);

	kvd_layout(c, &shards_off, &heap_off, &d->seg.size);
	d->seg.rw_size = kvs_rw_size(c->max_readers, kvd_nhints(c));

	rc = shm_make(&c->access, d->seg.shm_name, c->access.data_mode,
		      d->seg.size, &d->seg.base);
	if (rc < 0) {
		kvd_log(LOG_ERR, "event=start_failed reason=shm_open object=%s "
			"errno=%d (%s)", d->seg.shm_name, -rc, strerror(-rc));
		goto err_lock;
	}
	rc = shm_make(&c->access, d->seg.rw_name, c->access.rw_mode,
		      d->seg.rw_size, &d->seg.rw);
	if (rc < 0) {
		kvd_log(LOG_ERR, "event=start_failed reason=shm_open object=%s "
			"errno=%d (%s)", d->seg.rw_name, -rc, strerror(-rc));
		goto err_data;
	}
	d->hdr = (struct kvs_header *)d->seg.base;
	kvd_header_init(d->hdr, c, d->seg.rw_size, d->membarrier);
	return 0;

err_data:
	munmap(d->seg.base, d->seg.size);
	shm_unlink(d->seg.shm_name);
	d->seg.base = NULL;
err_lock:
	close(d->seg.lock_fd);
	d->seg.lock_fd = -1;
	return rc;
}

void kvd_segment_publish(struct kvd *d)
{
	header_publish(d);
}

/*
 * kvd_segment_destroy - at stop: tell attached clients the daemon is gone
 * (KVS_GONE_STOPPED: they go on reading this data, stale, and look for a
 * new daemon to reattach to), then unmap and unlink. Clients keep their
 * own mappings; nothing in them is freed or rewritten.
 */
void kvd_segment_destroy(struct kvd *d)
{
	if (d->hdr && d->hdr->magic == KVS_MAGIC)
		kvs_store_release(&d->hdr->superseded, KVS_GONE_STOPPED);
	if (d->seg.base) {
		munmap(d->seg.base, d->seg.size);
		shm_unlink(d->seg.shm_name);
		d->seg.base = NULL;
	}
	if (d->seg.rw) {
		munmap(d->seg.rw, d->seg.rw_size);
		shm_unlink(d->seg.rw_name);
		d->seg.rw = NULL;
	}
	if (d->seg.lock_fd >= 0) {
		close(d->seg.lock_fd);
		d->seg.lock_fd = -1;
	}
}
