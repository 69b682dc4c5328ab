// SPDX-License-Identifier: MIT
/*
 * daemon/config.c - settings that can be read and changed while kvshmd
 * runs (the CONFIG_GET and CONFIG_SET ops; kvshmctl config get|set).
 *
 * Changeable: eviction, eviction-samples, eviction-watermark (the owning
 * module applies them; see evict.h). The others are shown, read-only.
 * Names and value syntax are those of the command line and of
 * kvshmd.conf(5). Runs on the server thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvshmd.h"
#include "log.h"

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

char *kvd_config_text(struct kvd *d, size_t *len)
{
	char *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);

	if (!f)
		return NULL;
	fprintf(f, "name %s\n", d->cfg.name);
	fprintf(f, "memory %" PRIu64 "\n", d->cfg.memory);
	fprintf(f, "max-entries %" PRIu64 "\n", d->cfg.max_entries);
	fprintf(f, "eviction %s\n", kvd_policy_name(kvd_evict_policy(d->ev)));
	fprintf(f, "eviction-samples %u\n", kvd_evict_samples(d->ev));
	fprintf(f, "eviction-watermark %u\n", kvd_evict_watermark(d->ev));
	if (fclose(f) != 0) {
		free(p);
		return NULL;
	}
	*len = n;
	return p;
}
