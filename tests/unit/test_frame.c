// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_frame.c - the write-channel codec: round trips, and every
 * way a frame can lie about its lengths.
 */
#include <errno.h>
#include <string.h>

#include "frame.h"
#include "../tap.h"

int main(void)
{
	struct kvs_wbuf w = { 0 };
	struct kvs_frame_hdr h;
	struct kvs_rd r;
	const char *key;
	size_t klen, vlen;
	const void *val;
	char big[300];
	long n;

	plan_tests(16);

	memset(big, 'v', sizeof(big));
	kvs_frame_begin(&w, KVS_OP_SET, KVS_SET_NX, 42, 0);
	kvs_put_blob(&w, "key", 3);
	kvs_put_blob(&w, big, sizeof(big));
	kvs_put_i64(&w, -5);
	ok(kvs_frame_end(&w) == 0, "a SET frame encodes");
	n = kvs_frame_peek(w.p, w.len, 1 << 20, &h);
	ok(n == (long)w.len, "peek reports the whole frame's size");
	ok(h.op == KVS_OP_SET && h.flags == KVS_SET_NX && h.id == 42 &&
	   h.len == w.len - sizeof(h), "the header round-trips");
	kvs_rd_init(&r, w.p + sizeof(h), h.len);
	key = kvs_get_blob(&r, &klen);
	val = kvs_get_blob(&r, &vlen);
	ok(klen == 3 && memcmp(key, "key", 3) == 0 && vlen == sizeof(big) &&
	   memcmp(val, big, vlen) == 0 && kvs_get_i64(&r) == -5,
	   "fields decode to what was encoded");
	ok(kvs_rd_done(&r) == 0, "a fully consumed payload is well-formed");

	ok(kvs_frame_peek(w.p, sizeof(h) - 1, 1 << 20, &h) == 0,
	   "a partial header needs more bytes");
	ok(kvs_frame_peek(w.p, w.len - 1, 1 << 20, &h) == 0,
	   "a partial payload needs more bytes");
	ok(kvs_frame_peek(w.p, w.len, 100, &h) == -EMSGSIZE,
	   "a payload over the limit is refused before it is read");

	kvs_rd_init(&r, w.p + sizeof(h), 5);
	kvs_get_blob(&r, &klen);
	ok(kvs_rd_done(&r) == -EPROTO, "a blob longer than the payload is malformed");

	kvs_rd_init(&r, w.p + sizeof(h), h.len);
	kvs_get_blob(&r, &klen);
	ok(kvs_rd_done(&r) == -EPROTO, "unconsumed trailing bytes are malformed");

	kvs_rd_init(&r, "\xff\xff\xff\xff" "abc", 7);
	val = kvs_get_blob(&r, &vlen);
	ok(val == NULL && vlen == 0 && r.err == -EPROTO,
	   "a 4 GiB blob length in 7 bytes is refused");
	ok(kvs_get_u64(&r) == 0 && r.err == -EPROTO, "errors are sticky");

	kvs_rd_init(&r, "", 0);
	kvs_get_u32(&r);
	ok(kvs_rd_done(&r) == -EPROTO, "reading past an empty payload is malformed");

	w.len = 0;
	kvs_frame_begin(&w, KVS_OP_PING | KVS_OP_REPLY, 0, 7, -ENOENT);
	ok(kvs_frame_end(&w) == 0 && w.len == sizeof(h), "an empty reply is a bare header");
	kvs_frame_peek(w.p, w.len, 0, &h);
	ok(h.status == -ENOENT && h.len == 0, "a reply status round-trips");

	w.len = 0;
	kvs_frame_begin(&w, KVS_OP_PING, 0, 1, 0);
	kvs_frame_end(&w);
	kvs_frame_begin(&w, KVS_OP_PING, 0, 2, 0);
	kvs_frame_end(&w);
	n = kvs_frame_peek(w.p, w.len, 0, &h);
	ok(n == (long)sizeof(h) && kvs_frame_peek(w.p + n, w.len - (size_t)n, 0, &h) > 0 &&
	   h.id == 2, "pipelined frames are delimited one by one");
	kvs_wbuf_free(&w);
	return exit_status();
}
