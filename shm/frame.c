// SPDX-License-Identifier: MIT
/*
 * shm/frame.c - encoder and checked decoder for write-channel frames.
 * Pure memory transformations: no I/O, no shared-memory access.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

void kvs_wbuf_free(struct kvs_wbuf *w)
{
	free(w->p);
	memset(w, 0, sizeof(*w));
}

static void *wbuf_reserve(struct kvs_wbuf *w, size_t n)
{
	char *p;

	if (w->err)
		return NULL;
	if (n > SIZE_MAX / 2 - w->len) {
		w->err = -E2BIG;
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;

		while (cap < w->len + n)
			cap *= 2;
		p = realloc(w->p, cap);
		if (!p) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->p = p;
		w->cap = cap;
	}
	p = w->p + w->len;
	w->len += n;
	return p;
}

static void wbuf_put(struct kvs_wbuf *w, const void *src, size_t n)
{
	void *dst = wbuf_reserve(w, n);

	if (dst && n)
		memcpy(dst, src, n);
}

void kvs_frame_begin(struct kvs_wbuf *w, uint16_t op, uint16_t flags,
		     uint32_t id, int32_t status)
{
	struct kvs_frame_hdr h = {
		.len = 0, .id = id, .op = op, .flags = flags, .status = status,
	};

	w->frame = w->len;
	wbuf_put(w, &h, sizeof(h));
}

void kvs_put_u32(struct kvs_wbuf *w, uint32_t v)
{
	wbuf_put(w, &v, sizeof(v));
}

void kvs_put_u64(struct kvs_wbuf *w, uint64_t v)
{
	wbuf_put(w, &v, sizeof(v));
}

void kvs_put_i64(struct kvs_wbuf *w, int64_t v)
{
	wbuf_put(w, &v, sizeof(v));
}

void kvs_put_blob(struct kvs_wbuf *w, const void *p, size_t len)
{
	if (len > UINT32_MAX) {
		w->err = -E2BIG;
		return;
	}
	kvs_put_u32(w, (uint32_t)len);
	wbuf_put(w, p, len);
}

int kvs_frame_end(struct kvs_wbuf *w)
{
	size_t payload;
	uint32_t len;

	if (w->err)
		return w->err;
	payload = w->len - w->frame - sizeof(struct kvs_frame_hdr);
	if (payload > UINT32_MAX)
		return -E2BIG;
	len = (uint32_t)payload;
	memcpy(w->p + w->frame + offsetof(struct kvs_frame_hdr, len), &len,
	       sizeof(len));
	return 0;
}

long kvs_frame_peek(const void *buf, size_t avail, size_t max_payload,
		    struct kvs_frame_hdr *h)
{
	if (avail < sizeof(*h))
		return 0;
	memcpy(h, buf, sizeof(*h));
	if (h->len > max_payload)
		return -EMSGSIZE;
	if (avail - sizeof(*h) < h->len)
		return 0;
	return (long)(sizeof(*h) + h->len);
}

void kvs_rd_init(struct kvs_rd *r, const void *payload, size_t len)
{
	r->p = payload;
	r->left = len;
	r->err = 0;
}

static const void *rd_take(struct kvs_rd *r, size_t n)
{
	const void *p;

	if (r->err || r->left < n) {
		r->err = -EPROTO;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

uint32_t kvs_get_u32(struct kvs_rd *r)
{
	const void *p = rd_take(r, sizeof(uint32_t));
	uint32_t v = 0;

	if (p)
		memcpy(&v, p, sizeof(v));
	return v;
}

uint64_t kvs_get_u64(struct kvs_rd *r)
{
	const void *p = rd_take(r, sizeof(uint64_t));
	uint64_t v = 0;

	if (p)
		memcpy(&v, p, sizeof(v));
	return v;
}

int64_t kvs_get_i64(struct kvs_rd *r)
{
	return (int64_t)kvs_get_u64(r);
}

const void *kvs_get_blob(struct kvs_rd *r, size_t *len)
{
	uint32_t n = kvs_get_u32(r);
	const void *p = rd_take(r, n);

	*len = p ? n : 0;
	return p;
}

int kvs_rd_done(const struct kvs_rd *r)
{
	if (r->err)
		return r->err;
	return r->left ? -EPROTO : 0;
}
