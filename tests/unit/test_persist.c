// SPDX-License-Identifier: MIT
/*
 * unit/test_persist.c - the on-disk formats (daemon/persist.c): entries,
 * WAL records and segments, snapshots; and how each kind of damage is
 * classified: a WAL cut at every byte of its last records, garbage
 * appended, a flipped byte in the middle, an LSN gap; a snapshot cut,
 * flipped or extended; a snapshot of several parts (each an LZ4 frame),
 * damage in a later part; and the format 1 snapshot (one frame), still
 * read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lz4frame.h>

#include "hash.h"
#include "persist.h"
#include "../lib/files.h"
#include "../tap.h"

static char dir[] = "/tmp/kvshm-persist-XXXXXX";
static char wal[300], cut[300], snap[300];

static void write_file(const char *path, const char *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n || close(fd) < 0)
		bail_out("write %s: %s", path, strerror(errno));
}

static char *read_file(const char *path, size_t *n)
{
	struct stat st;
	char *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		bail_out("read %s: %s", path, strerror(errno));
	p = malloc((size_t)st.st_size + 1);
	if (!p || read(fd, p, (size_t)st.st_size) != st.st_size)
		bail_out("read %s", path);
	close(fd);
	*n = (size_t)st.st_size;
	return p;
}

#define NREC 24

/* A segment of NREC records; record i has i % 3 + 1 entries. @ends[i] is
 * the offset just after record i. Returns the buffer; *@n its size. */
static char *make_wal(size_t *n, size_t ends[NREC], uint64_t skip_lsn)
{
	size_t cap = 1 << 20, len = KVP_WAL_HDR;
	char *b = calloc(1, cap);
	uint64_t lsn = 1;
	int i, j;

	kvp_wal_hdr_put(b, 1);
	for (i = 0; i < NREC; i++, lsn++) {
		char *rec = b + len, *p = rec + KVP_REC_HDR;
		char key[32], val[200];

		if (lsn == skip_lsn)
			lsn++;
		for (j = 0; j <= i % 3; j++) {
			struct kvp_ent e = { .op = KVP_OP_SET, .key = key,
					     .val = val, .version = lsn };

			e.klen = (size_t)snprintf(key, sizeof(key), "key-%d-%d", i, j);
			e.vlen = (size_t)(i * 7 % 150);
			memset(val, 'a' + i % 26, e.vlen);
			if (j == 2) {
				e.op = KVP_OP_DEL;
				e.vlen = 0;
			}
			p += kvp_ent_put(p, &e);
		}
		len += kvp_rec_seal(rec, (size_t)(p - rec - KVP_REC_HDR), lsn, lsn);
		ends[i] = len;
	}
	*n = len;
	return b;
}

static void test_entries(void)
{
	char buf[256];
	const char *p;
	struct kvp_ent e = { .op = KVP_OP_SET, .key = "k", .klen = 1,
			     .val = "value", .vlen = 5, .expire_ms = 1234,
			     .version = 99 }, d;
	size_t n = kvp_ent_put(buf, &e);

	p = buf;
	ok(kvp_ent_next(&p, buf + n, &d) == 1 && d.op == KVP_OP_SET &&
	   d.klen == 1 && d.vlen == 5 && memcmp(d.val, "value", 5) == 0 &&
	   d.expire_ms == 1234 && d.version == 99 && p == buf + n,
	   "an entry decodes to what was encoded");
	p = buf;
	ok(kvp_ent_next(&p, buf + n - 1, &d) == -EBADMSG,
	   "a truncated entry is malformed");
	buf[0] = 9;
	p = buf;
	ok(kvp_ent_next(&p, buf + n, &d) == -EBADMSG, "an unknown op is malformed");
	e.klen = 0;
	n = kvp_ent_put(buf, &e);
	p = buf;
	ok(kvp_ent_next(&p, buf + n, &d) == -EBADMSG, "a SET without a key is malformed");
}

static void scan(const char *path, struct kvp_wal_scan *sc)
{
	if (kvp_wal_scan_file(path, sc, NULL, NULL) != 0)
		bail_out("scan %s", path);
}

/*
 * A preallocated segment kvshmd did not finish: records, then zeros to
 * the end of the file. The zeros are the end of the log, not damage;
 * anything else in them is still a torn tail.
 */
static void test_zero_tail(const char *b, size_t n, const size_t *ends)
{
	size_t z = 3 * 4096 + 5;
	char *g = calloc(1, n + z);
	struct kvp_wal_scan sc;

	if (!g)
		bail_out("calloc");
	memcpy(g, b, n);
	write_file(cut, g, n + z);
	scan(cut, &sc);
	ok(sc.state == KVP_WAL_CLEAN && sc.records == NREC &&
	   sc.last_lsn == NREC && sc.valid_end == n && sc.zero_tail == z &&
	   sc.file_size == n + z,
	   "zeros after the records (a preallocated tail) are the clean end "
	   "of the log, measured");

	memset(g + KVP_WAL_HDR, 0, n - KVP_WAL_HDR);
	write_file(cut, g, KVP_WAL_HDR + z);
	scan(cut, &sc);
	ok(sc.state == KVP_WAL_CLEAN && sc.records == 0 &&
	   sc.last_lsn == 0 && sc.valid_end == KVP_WAL_HDR &&
	   sc.zero_tail == z,
	   "a header and only zeros is a clean, empty segment");

	/* Half of the last record, zeros after it: torn (a copy cut short). */
	memcpy(g, b, n);
	memset(g + ends[NREC - 2] + (n - ends[NREC - 2]) / 2, 0,
	       (n - ends[NREC - 2]) - (n - ends[NREC - 2]) / 2);
	write_file(cut, g, n + z);
	scan(cut, &sc);
	ok(sc.state == KVP_WAL_TORN && sc.records == NREC - 1 &&
	   sc.valid_end == ends[NREC - 2] && sc.zero_tail == 0,
	   "a record cut short before the zeros is a torn tail");

	/* Zeros, then a non-zero byte far into them: torn, not clean. */
	memcpy(g, b, n);
	g[n + z - 1] = 1;
	write_file(cut, g, n + z);
	scan(cut, &sc);
	ok(sc.state == KVP_WAL_TORN && sc.records == NREC &&
	   sc.valid_end == n && sc.zero_tail == 0,
	   "a stray byte at the end of the zeros makes them a torn tail");
	free(g);
}

static void test_wal(void)
{
	size_t n, ends[NREC], off, bad = 0, first;
	char *b = make_wal(&n, ends, 0), *g;
	struct kvp_wal_scan sc;
	int i, k;

	write_file(wal, b, n);
	scan(wal, &sc);
	ok(sc.state == KVP_WAL_CLEAN && sc.records == NREC &&
	   sc.last_lsn == NREC && sc.entries == NREC * 2 && sc.valid_end == n,
	   "a whole segment scans clean: %d records, %d entries", NREC,
	   NREC * 2);

	/* Cut at every byte inside the last 4 records. */
	first = ends[NREC - 5];
	for (off = first; off < n; off++) {
		size_t whole = 0;

		for (k = 0; k < NREC; k++)
			if (ends[k] <= off)
				whole = (size_t)k + 1;
		write_file(cut, b, off);
		scan(cut, &sc);
		if (sc.records != whole || sc.last_lsn != whole ||
		    sc.valid_end != (whole ? ends[whole - 1] : KVP_WAL_HDR) ||
		    sc.state != (off == ends[whole - 1] ? KVP_WAL_CLEAN
							 : KVP_WAL_TORN)) {
			if (!bad++)
				diag("cut at %zu: state %d records %llu end %llu",
				     off, sc.state,
				     (unsigned long long)sc.records,
				     (unsigned long long)sc.valid_end);
		}
	}
	ok(bad == 0, "a WAL cut at each of %zu offsets keeps exactly the "
	   "records before the cut", n - first);

	g = malloc(n + 100);
	memcpy(g, b, n);
	srand(7);
	for (i = 0; i < 100; i++)
		g[n + (size_t)i] = (char)rand();
	write_file(cut, g, n + 100);
	scan(cut, &sc);
	ok(sc.state == KVP_WAL_TORN && sc.records == NREC && sc.valid_end == n,
	   "garbage appended is a torn tail after %d records", NREC);
	test_zero_tail(b, n, ends);

	memcpy(g, b, n);
	g[ends[9] + KVP_REC_HDR + 3] ^= 0x20;	/* record 11's payload */
	write_file(cut, g, n);
	scan(cut, &sc);
	ok(sc.state == KVP_WAL_CORRUPT && sc.records == 10 &&
	   sc.bad_off == ends[9],
	   "a flipped byte in the middle is corruption at its record, not a tail");
	memcpy(g, b, n);
	g[ends[9] + 5] ^= 0x01;			/* record 11's length */
	write_file(cut, g, n);
	scan(cut, &sc);
	ok(sc.state == KVP_WAL_CORRUPT && sc.bad_off == ends[9],
	   "a flipped length field is found as corruption too");
	free(g);
	free(b);

	b = make_wal(&n, ends, 7);
	write_file(cut, b, n);
	scan(cut, &sc);
	ok(sc.state == KVP_WAL_CORRUPT && sc.records == 6,
	   "an LSN gap is corruption");
	free(b);

	write_file(cut, "KVSHMWAL", 8);
	scan(cut, &sc);
	ok(sc.state == KVP_WAL_BADHDR, "a short header is reported");
}

struct sum {
	uint64_t n, bytes, big;
};

static int sum_ent(const struct kvp_ent *e, void *arg)
{
	struct sum *s = arg;

	s->n++;
	s->bytes += e->klen + e->vlen;
	if (e->vlen > (1 << 20))
		s->big++;
	return 0;
}

static void test_snapshot(void)
{
	struct kvp_snap_writer *w;
	struct kvp_snap_meta m;
	struct sum s = { 0 };
	char why[160], key[32], *val, *b, *c;
	size_t n, off, bad = 0, tries = 0;
	int fd, i, rc;

	/* Varied bytes: in a run of one byte value, a flipped LZ4 match
	 * offset can decode to the very same data, which is no damage. */
	val = malloc(3 << 20);
	srand(11);
	for (i = 0; i < (3 << 20); i++)
		val[i] = (char)('a' + rand() % 26);
	fd = open(snap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || kvp_snap_create(&w, fd, &(struct kvp_snap_meta){
			.lsn = 42, .version_hw = 77, .created_ms = 1000,
			.hash_seed = 5, .nshards = 16 }) < 0)
		bail_out("snapshot create");
	for (i = 0; i < 5000; i++) {
		struct kvp_ent e = { .op = KVP_OP_SET, .key = key, .val = val,
				     .version = (uint64_t)i + 1 };

		e.klen = (size_t)snprintf(key, sizeof(key), "k%d", i);
		e.vlen = i == 2500 ? (3 << 20) : (size_t)(i % 300);
		if (kvp_snap_add(w, &e) < 0)
			bail_out("snapshot add");
	}
	rc = kvp_snap_finish(w, &m);
	kvp_snap_free(w);
	close(fd);
	ok(rc == 0 && m.items == 5000, "a snapshot of 5000 entries is written");
	rc = kvp_snap_read(snap, &m, sum_ent, &s, why, sizeof(why));
	ok(rc == 0 && s.n == 5000 && s.big == 1 && m.lsn == 42 &&
	   m.version_hw == 77 && m.items == 5000 && m.hash_seed == 5 &&
	   m.nshards == 16,
	   "it reads back whole, a 3 MiB value included (%s)", why);

	b = read_file(snap, &n);
	c = malloc(n + 1);
	for (off = 0; off < n; off += n / 97 + 1) {
		write_file(cut, b, off);
		tries++;
		if (kvp_snap_read(cut, &m, NULL, NULL, why, sizeof(why)) != -EBADMSG)
			bad++;
	}
	for (off = n - 40; off < n; off++) {
		struct sum t = { 0 };

		write_file(cut, b, off);
		tries++;
		/* With a callback too: what it returns must not mask it. */
		if (kvp_snap_read(cut, &m, sum_ent, &t, why, sizeof(why)) != -EBADMSG)
			bad++;
	}
	ok(bad == 0, "a snapshot cut at %zu offsets is refused every time", tries);
	bad = tries = 0;
	for (off = 3; off < n; off += n / 61 + 1) {
		memcpy(c, b, n);
		c[off] ^= 0x04;
		write_file(cut, c, n);
		tries++;
		if (kvp_snap_read(cut, &m, NULL, NULL, why, sizeof(why)) != -EBADMSG) {
			if (!bad++)
				diag("flip at %zu of %zu not detected", off, n);
		}
	}
	ok(bad == 0, "a flipped byte at %zu places is refused every time", tries);
	memcpy(c, b, n);
	c[n] = 0;
	write_file(cut, c, n + 1);
	ok(kvp_snap_read(cut, &m, NULL, NULL, why, sizeof(why)) == -EBADMSG,
	   "a byte appended is refused (%s)", why);
	free(b);
	free(c);
	free(val);
}


/* ---- snapshots of several parts, and format 1 ---- */

#define NPARTS	4

/* Entries of part @p: none in part 2 (an empty part), else 150 * (p + 1). */
static int part_keys(int p)
{
	return p == 2 ? 0 : 150 * (p + 1);
}

static struct kvp_ent part_ent(int p, int j, char *key, char *val)
{
	struct kvp_ent e = { .op = KVP_OP_SET, .key = key, .val = val };

	e.klen = (size_t)snprintf(key, 32, "p%d-k%d", p, j);
	e.vlen = (size_t)snprintf(val, 64, "value %d of part %d, %x", j, p,
				  (unsigned)(j * 2654435761U));
	e.expire_ms = j % 3 ? 0 : 4000000000000LL + j;
	e.version = 1000000ULL * (uint64_t)(p + 1) + (uint64_t)j;
	return e;
}

static void write_parts(const char *path)
{
	struct kvp_snap_writer *w;
	char key[32], val[64];
	int fd, p, j;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || kvp_snap_create(&w, fd, &(struct kvp_snap_meta){
			.lsn = 9, .version_hw = 5000000, .hash_seed = 3,
			.nshards = 16, .nparts = NPARTS }) < 0)
		bail_out("snapshot create");
	for (p = 0; p < NPARTS; p++) {
		if (kvp_snap_part(w, (uint32_t)p * 4, 4) < 0)
			bail_out("snapshot part");
		for (j = 0; j < part_keys(p); j++) {
			struct kvp_ent e = part_ent(p, j, key, val);

			if (kvp_snap_add(w, &e) < 0)
				bail_out("snapshot add");
		}
	}
	ok(kvp_snap_part(w, 16, 4) == -EINVAL,
	   "a writer refuses a part more than it announced");
	if (kvp_snap_finish(w, NULL) < 0)
		bail_out("snapshot finish");
	kvp_snap_free(w);
	close(fd);
}

struct part_check {
	int p, n, bad;
};

/* Every entry of part @p as written: key, value, expiry, version. */
static int check_part_ents(const struct kvp_ent *e, size_t n, void *arg)
{
	struct part_check *c = arg;
	char key[32], val[64];
	size_t i;

	for (i = 0; i < n; i++, c->n++) {
		struct kvp_ent x = part_ent(c->p, c->n, key, val);

		if (e[i].klen != x.klen || memcmp(e[i].key, key, x.klen) ||
		    e[i].vlen != x.vlen || memcmp(e[i].val, val, x.vlen) ||
		    e[i].expire_ms != x.expire_ms || e[i].version != x.version)
			c->bad++;
	}
	return 0;
}

static void test_snapshot_parts(void)
{
	struct kvp_snap_file *f;
	struct kvp_snap_meta m;
	const struct kvp_snap_part *pt;
	struct kvp_snap_part last;
	struct kvp_snap_scratch scratch = { 0 };
	char why[200], *b, *c;
	size_t n, off, tries = 0, bad = 0;
	int p, rc, good = 0;

	write_parts(snap);
	rc = kvp_snap_open(&f, snap, &m, why, sizeof(why));
	ok(rc == 0 && m.format == 2 && m.nparts == NPARTS && m.items == 1050 &&
	   m.lsn == 9 && m.nshards == 16, "a snapshot of %d parts opens: "
	   "format 2, %u parts, %llu keys (%s)", NPARTS, m.nparts,
	   (unsigned long long)m.items, why);
	if (rc < 0)
		bail_out("open");
	for (p = 0; p < NPARTS; p++) {
		struct part_check pc = { .p = p };

		pt = kvp_snap_get_part(f, (uint32_t)p);
		rc = kvp_snap_read_part(f, (uint32_t)p, &scratch,
					check_part_ents, &pc, why, sizeof(why));
		if (rc == 0 && pc.n == part_keys(p) && pc.bad == 0 &&
		    pt->items == (uint64_t)part_keys(p) &&
		    pt->first_shard == (uint32_t)p * 4 && pt->shards == 4)
			good++;
	}
	kvp_snap_close(f);
	kvp_snap_scratch_free(&scratch);
	ok(good == NPARTS, "each part reads back on its own, keys, values, "
	   "expiry and versions as written, an empty part included");

	b = read_file(snap, &n);
	c = malloc(n + 1);
	if (kvp_snap_open(&f, snap, &m, why, sizeof(why)) < 0)
		bail_out("open");
	pt = kvp_snap_get_part(f, NPARTS - 1);
	last = *pt;			/* pt goes with f */
	kvp_snap_close(f);
	/* Flips inside the last part: its frame header, blocks, checksum. */
	for (off = last.off; off < last.off + last.len; off += last.len / 53 + 1) {
		memcpy(c, b, n);
		c[off] ^= 0x10;
		write_file(cut, c, n);
		tries++;
		rc = kvp_snap_open(&f, cut, &m, why, sizeof(why));
		if (rc == 0) {
			/* The parts before it are whole; the last is not. */
			for (p = 0; p < NPARTS - 1 && rc == 0; p++)
				rc = kvp_snap_read_part(f, (uint32_t)p, NULL,
							NULL, NULL, why,
							sizeof(why));
			if (rc == 0)
				rc = kvp_snap_read_part(f, NPARTS - 1, NULL,
							NULL, NULL, why,
							sizeof(why))
				     == -EBADMSG && strstr(why, "part 4 of 4")
				     ? -EBADMSG : 0;
			kvp_snap_close(f);
		}
		if (rc != -EBADMSG && !bad++)
			diag("flip at %zu of %zu not detected (%s)", off, n, why);
		if (kvp_snap_read(cut, &m, NULL, NULL, why, sizeof(why)) !=
		    -EBADMSG)
			bad++;
	}
	ok(bad == 0, "a flipped byte at %zu places in the last part is refused "
	   "every time, naming the part", tries);
	bad = tries = 0;
	for (off = 8; off < n; off += 97) {
		write_file(cut, b, off);
		tries++;
		if (kvp_snap_read(cut, &m, NULL, NULL, why, sizeof(why)) !=
		    -EBADMSG)
			bad++;
	}
	memcpy(c, b, n);
	c[8 + 56 + 40 + 8] ^= 1;	/* part 2's length in the table */
	write_file(cut, c, n);
	ok(bad == 0 && kvp_snap_read(cut, &m, NULL, NULL, why, sizeof(why)) ==
	   -EBADMSG, "a snapshot cut at %zu offsets, or with its part table "
	   "changed, is refused (%s)", tries, why);
	free(b);
	free(c);
}

/* Entry @j of the big part: 100 bytes of noise, which LZ4 cannot shrink. */
#define BIG_KEYS	40000
static struct kvp_ent big_ent(int j, char *key, char *val)
{
	struct kvp_ent e = { .op = KVP_OP_SET, .key = key, .val = val,
			     .vlen = 100, .version = (uint64_t)j + 1 };
	uint64_t x = (uint64_t)j * 0x9E3779B97F4A7C15ULL + 1;
	int i;

	e.klen = (size_t)snprintf(key, 32, "big-%d", j);
	for (i = 0; i < 100; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		val[i] = (char)x;
	}
	return e;
}

static int check_big_ents(const struct kvp_ent *e, size_t n, void *arg)
{
	struct part_check *c = arg;
	char key[32], val[100];
	size_t i;

	for (i = 0; i < n; i++, c->n++) {
		struct kvp_ent x = big_ent(c->n, key, val);

		if (e[i].klen != x.klen || memcmp(e[i].key, key, x.klen) ||
		    e[i].vlen != x.vlen || memcmp(e[i].val, val, x.vlen) ||
		    e[i].version != x.version)
			c->bad++;
	}
	return 0;
}

/*
 * A part of several MB: read from the file in chunks (2 MiB each), so
 * its blocks straddle reads; the same scratch buffers serve read after
 * read; damage in a later chunk, in the closing checksum or a cut in the
 * middle is still found.
 */
static void test_snapshot_big_part(void)
{
	struct kvp_snap_scratch scratch = { 0 };
	struct kvp_snap_writer *w;
	struct kvp_snap_file *f;
	struct kvp_snap_meta m;
	struct part_check pc[2] = { { 0 }, { 0 } };
	char key[32], val[100], why[200], *b;
	size_t n, bad = 0, tries = 0;
	const size_t offs[] = { 2U << 20, (2U << 20) + 4099, 3U << 20,
				(4U << 20) + 7 };
	int fd, j, rc = 0, r;

	fd = open(snap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || kvp_snap_create(&w, fd, &(struct kvp_snap_meta){
			.lsn = 5, .hash_seed = 3, .nshards = 16,
			.nparts = 1 }) < 0 || kvp_snap_part(w, 0, 16) < 0)
		bail_out("snapshot create");
	for (j = 0; j < BIG_KEYS; j++) {
		struct kvp_ent e = big_ent(j, key, val);

		if (kvp_snap_add(w, &e) < 0)
			bail_out("snapshot add");
	}
	if (kvp_snap_finish(w, NULL) < 0)
		bail_out("snapshot finish");
	kvp_snap_free(w);
	close(fd);

	b = read_file(snap, &n);
	if (kvp_snap_open(&f, snap, &m, why, sizeof(why)) < 0)
		bail_out("open");
	for (r = 0; r < 2 && rc == 0; r++)
		rc = kvp_snap_read_part(f, 0, &scratch, check_big_ents, &pc[r],
					why, sizeof(why));
	kvp_snap_close(f);
	ok(rc == 0 && n > (4U << 20) + 64 && pc[0].n == BIG_KEYS &&
	   pc[1].n == BIG_KEYS && pc[0].bad == 0 && pc[1].bad == 0,
	   "a part of %zu bytes reads back whole, twice with the same "
	   "buffers (%s)", n, why);

	for (j = 0; j < (int)(sizeof(offs) / sizeof(offs[0])) + 2; j++) {
		size_t off = j < 4 ? offs[j] : n - 8 - 32 - 1 - (size_t)(j - 4);

		if (off >= n)
			continue;
		b[off] ^= 0x10;
		write_file(cut, b, n);
		b[off] ^= 0x10;
		tries++;
		rc = kvp_snap_open(&f, cut, &m, why, sizeof(why));
		if (rc == 0) {
			rc = kvp_snap_read_part(f, 0, &scratch, NULL, NULL,
						why, sizeof(why));
			kvp_snap_close(f);
		}
		if (rc != -EBADMSG && !bad++)
			diag("flip at %zu of %zu not detected", off, n);
	}
	write_file(cut, b, (3U << 20) + 5);
	ok(bad == 0 && tries == 6 &&
	   kvp_snap_read(cut, &m, NULL, NULL, why, sizeof(why)) == -EBADMSG,
	   "a flipped byte past the first chunk, or in the content checksum, "
	   "and a cut in the middle are refused (%s)", why);
	kvp_snap_scratch_free(&scratch);
	free(b);
}

/*
 * A format 1 snapshot, as kvshm wrote them before parts: the metadata
 * frame (format 1, 0 where the part count now is, no part table), one LZ4
 * frame of all entries, the trailer.
 */
static size_t write_format1(const char *path, int keys)
{
	const struct snap_v1 m = { .lsn = 7, .version_hw = 2000000,
				   .created_ms = 1234, .hash_seed = 99,
				   .nshards = 64 };
	char key[32], val[64], *raw;
	size_t rlen = 0, n;
	int j;

	raw = malloc((size_t)keys * 128);
	for (j = 0; j < keys; j++) {
		struct kvp_ent e = part_ent(0, j, key, val);

		rlen += kvp_ent_put(raw + rlen, &e);
	}
	n = write_snapshot_v1(path, &m, raw, rlen, (uint64_t)keys);
	free(raw);
	return n;
}

static void test_snapshot_format1(void)
{
	struct part_check pc = { .p = 0 };
	struct kvp_snap_file *f;
	struct kvp_snap_meta m, pm;
	char why[200], *b;
	size_t n = write_format1(snap, 700), off, bad = 0;
	int rc;

	rc = kvp_snap_open(&f, snap, &m, why, sizeof(why));
	if (rc == 0) {
		rc = kvp_snap_read_part(f, 0, NULL, check_part_ents, &pc,
					why, sizeof(why));
		kvp_snap_close(f);
	}
	ok(rc == 0 && m.format == 1 && m.nparts == 1 && m.items == 700 &&
	   m.lsn == 7 && m.hash_seed == 99 && m.nshards == 64 && pc.n == 700 &&
	   pc.bad == 0 && kvp_snap_peek(snap, &pm) == 0 && pm.items == 700 &&
	   pm.lsn == 7, "a format 1 snapshot (one frame) still reads whole, "
	   "as one part (%s)", why);
	b = read_file(snap, &n);
	for (off = 72; off < n; off += n / 37 + 1) {
		b[off] ^= 0x10;
		write_file(cut, b, n);
		b[off] ^= 0x10;
		if (kvp_snap_read(cut, &m, NULL, NULL, why, sizeof(why)) !=
		    -EBADMSG)
			bad++;
	}
	ok(bad == 0, "and a flipped byte in its data is refused");
	free(b);
}

int main(void)
{
	char cmd[400];

	plan_tests(29);
	if (!mkdtemp(dir))
		bail_out("mkdtemp");
	snprintf(wal, sizeof(wal), "%s/wal-0000000000000001.log", dir);
	snprintf(cut, sizeof(cut), "%s/cut", dir);
	snprintf(snap, sizeof(snap), "%s/snap", dir);
	test_entries();
	test_wal();
	test_snapshot();
	test_snapshot_parts();
	test_snapshot_big_part();
	test_snapshot_format1();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return exit_status();
}
