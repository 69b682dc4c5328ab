// SPDX-License-Identifier: MIT
/*
 * tests/integration/test_frames.c - hand-made frames of the CAS, CASDEL
 * and BATCH ops sent straight to kvshmd's socket: every malformed one gets
 * an error reply (never a crash, never a partial write), and a refused
 * batch's reply names the op that failed it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <kvshm.h>

#include "frame.h"
#include "../lib/daemon.h"
#include "../tap.h"

static int sock_open(const struct test_daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/kvshmd.sock",
			     d->dir) >= sizeof(sa.sun_path))
		bail_out("socket path too long: %s", d->dir);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		bail_out("connect %s: %s", sa.sun_path, strerror(errno));
	return fd;
}

static int read_all(int fd, void *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r <= 0)
			return -1;
		p = (char *)p + r;
		n -= (size_t)r;
	}
	return 0;
}

/*
 * Send the frame in @w, read its reply. Return the reply's status; set
 * *@idx to the u32 its payload holds, or to -2 if the payload is not one
 * u32 (-3 if no reply came).
 */
static int roundtrip(int fd, struct kvs_wbuf *w, long *idx)
{
	struct kvs_frame_hdr h;
	char buf[64];
	uint32_t v;

	*idx = -3;
	if (kvs_frame_end(w) < 0 || write(fd, w->p, w->len) != (ssize_t)w->len)
		return 1;
	w->len = 0;
	if (read_all(fd, &h, sizeof(h)) < 0 || h.len > sizeof(buf) ||
	    read_all(fd, buf, h.len) < 0)
		return 1;
	*idx = -2;
	if (h.len == 4) {
		memcpy(&v, buf, 4);
		*idx = v;
	}
	return h.status;
}

/* Replace the u32 just after the header of the frame in @w by @v. */
static void patch_u32(struct kvs_wbuf *w, size_t at, uint32_t v)
{
	memcpy(w->p + sizeof(struct kvs_frame_hdr) + at, &v, sizeof(v));
}

static void put_op(struct kvs_wbuf *w, uint32_t op, uint32_t cond,
		   const char *key, size_t klen, const char *val, int64_t ttl,
		   uint64_t ver)
{
	kvs_put_u32(w, op);
	kvs_put_u32(w, cond);
	kvs_put_blob(w, key, klen);
	kvs_put_blob(w, val, val ? strlen(val) : 0);
	kvs_put_i64(w, ttl);
	kvs_put_u64(w, ver);
}

int main(void)
{
	static const char *const args[] = { "--max-key", "16", NULL };
	struct kvs_wbuf w = { 0 };
	struct test_daemon d;
	char longkey[17];
	kvshm_t *c;
	long idx;
	int fd;

	plan_tests(17);
	start_kvshmd(&d, "frames", args);
	if (kvshm_open(&c, d.name, NULL))
		bail_out("cannot open");
	fd = sock_open(&d);
	memset(longkey, 'k', sizeof(longkey));

	kvs_frame_begin(&w, KVS_OP_CAS, 0, 1, 0);
	kvs_put_blob(&w, "k", 1);
	kvs_put_blob(&w, "v", 1);
	kvs_put_i64(&w, 0);		/* no version */
	ok(roundtrip(fd, &w, &idx) == -EPROTO, "CAS without its version is -EPROTO");

	kvs_frame_begin(&w, KVS_OP_CAS, 1, 2, 0);
	kvs_put_blob(&w, "k", 1);
	kvs_put_blob(&w, "v", 1);
	kvs_put_i64(&w, 0);
	kvs_put_u64(&w, 0);
	ok(roundtrip(fd, &w, &idx) == -EPROTO && kvshm_exists(c, "k", 1) ==
	   KVSHM_ENOTFOUND, "CAS with header flags is -EPROTO, nothing stored");

	kvs_frame_begin(&w, KVS_OP_CAS, 0, 3, 0);
	kvs_put_blob(&w, "k", 1);
	kvs_put_blob(&w, "v", 1);
	kvs_put_i64(&w, 0);
	kvs_put_u64(&w, 0);
	patch_u32(&w, 5, 1000);		/* value blob says 1000 bytes */
	ok(roundtrip(fd, &w, &idx) == -EPROTO, "CAS with a blob past the end is -EPROTO");

	kvs_frame_begin(&w, KVS_OP_CASDEL, 0, 4, 0);
	kvs_put_blob(&w, "k", 1);
	kvs_put_u64(&w, 1);
	kvs_put_u32(&w, 0);		/* trailing bytes */
	ok(roundtrip(fd, &w, &idx) == -EPROTO, "CASDEL with trailing bytes is -EPROTO");

	kvs_frame_begin(&w, KVS_OP_CAS, 0, 5, 0);
	kvs_put_blob(&w, "k", 1);
	kvs_put_blob(&w, "v", 1);
	kvs_put_i64(&w, 0);
	kvs_put_u64(&w, 0);
	ok(roundtrip(fd, &w, &idx) == 0 && idx == -2 && kvshm_exists(c, "k", 1) == 0,
	   "a well-formed CAS stores, its reply holds the version");

	kvs_frame_begin(&w, KVS_OP_BATCH, 0, 6, 0);
	kvs_put_u32(&w, 0);
	ok(roundtrip(fd, &w, &idx) == -EPROTO && idx == UINT32_MAX,
	   "BATCH of 0 ops is -EPROTO, naming no op");

	kvs_frame_begin(&w, KVS_OP_BATCH, 0, 7, 0);
	kvs_put_u32(&w, UINT32_MAX);
	put_op(&w, KVS_BATCH_PUT, 0, "b", 1, "v", 0, 0);
	ok(roundtrip(fd, &w, &idx) == -EPROTO,
	   "BATCH claiming 4 billion ops in one op's bytes is -EPROTO");

	kvs_frame_begin(&w, KVS_OP_BATCH, 0, 8, 0);
	kvs_put_u32(&w, 2);
	put_op(&w, KVS_BATCH_PUT, 0, "b", 1, "v", 0, 0);
	put_op(&w, KVS_BATCH_PUT, 0, "c", 1, "v", 0, 0);
	patch_u32(&w, 4 + 8, 500);	/* first key blob says 500 bytes */
	ok(roundtrip(fd, &w, &idx) == -EPROTO && kvshm_exists(c, "b", 1) ==
	   KVSHM_ENOTFOUND && kvshm_exists(c, "c", 1) == KVSHM_ENOTFOUND,
	   "BATCH with a key blob past the end is -EPROTO, nothing stored");

	kvs_frame_begin(&w, KVS_OP_BATCH, 0, 9, 0);
	kvs_put_u32(&w, 1);
	put_op(&w, KVS_BATCH_PUT, 0, "b", 1, "v", 0, 0);
	w.len -= 3;			/* cut the version short */
	ok(roundtrip(fd, &w, &idx) == -EPROTO, "BATCH with a truncated op is -EPROTO");

	kvs_frame_begin(&w, KVS_OP_BATCH, 2, 10, 0);
	kvs_put_u32(&w, 1);
	put_op(&w, KVS_BATCH_PUT, 0, "b", 1, "v", 0, 0);
	ok(roundtrip(fd, &w, &idx) == -EPROTO, "BATCH with header flags is -EPROTO");

	kvs_frame_begin(&w, KVS_OP_BATCH, 0, 11, 0);
	kvs_put_u32(&w, 3);
	put_op(&w, KVS_BATCH_PUT, 0, "b", 1, "v", 0, 0);
	put_op(&w, KVS_BATCH_DEL, 0, "k", 1, NULL, 0, 0);
	put_op(&w, 99, 0, "c", 1, "v", 0, 0);
	ok(roundtrip(fd, &w, &idx) == -EINVAL && idx == 2 &&
	   kvshm_exists(c, "b", 1) == KVSHM_ENOTFOUND && kvshm_exists(c, "k", 1) == 0,
	   "BATCH with an unknown op kind is -EINVAL naming op 2, nothing applied");

	kvs_frame_begin(&w, KVS_OP_BATCH, 0, 12, 0);
	kvs_put_u32(&w, 2);
	put_op(&w, KVS_BATCH_PUT, 0, "b", 1, "v", 0, 0);
	put_op(&w, KVS_BATCH_PUT, 0, longkey, sizeof(longkey), "v", 0, 0);
	ok(roundtrip(fd, &w, &idx) == -E2BIG && idx == 1,
	   "BATCH with a key over --max-key is -E2BIG naming op 1");

	kvs_frame_begin(&w, KVS_OP_BATCH, 0, 13, 0);
	kvs_put_u32(&w, 1);
	put_op(&w, KVS_BATCH_PUT, 0x80, "b", 1, "v", 0, 0);
	ok(roundtrip(fd, &w, &idx) == -EINVAL && idx == 0,
	   "BATCH with an unknown condition bit is -EINVAL");

	kvs_frame_begin(&w, KVS_OP_BATCH, 0, 14, 0);
	kvs_put_u32(&w, 1);
	put_op(&w, KVS_BATCH_DEL, 0, "k", 1, NULL, 5, 0);
	ok(roundtrip(fd, &w, &idx) == -EINVAL && idx == 0 &&
	   kvshm_exists(c, "k", 1) == 0, "BATCH delete with a TTL is -EINVAL");

	kvs_frame_begin(&w, KVS_OP_BATCH, 0, 15, 0);
	kvs_put_u32(&w, 2);
	put_op(&w, KVS_BATCH_PUT, 0, "b", 1, "v", 0, 0);
	put_op(&w, KVS_BATCH_DEL, 0, "k", 1, NULL, 0, 0);
	ok(roundtrip(fd, &w, &idx) == 0 && idx == -2 &&
	   kvshm_exists(c, "b", 1) == 0 && kvshm_exists(c, "k", 1) == KVSHM_ENOTFOUND,
	   "a well-formed BATCH applies, its reply has no payload");

	ok(kvshm_ping(c) == 0, "after all that the daemon still serves");
	close(fd);
	kvs_wbuf_free(&w);
	kvshm_close(c);
	ok(stop_kvshmd(&d) == 0, "kvshmd exits 0 on SIGTERM");
	return exit_status();
}
