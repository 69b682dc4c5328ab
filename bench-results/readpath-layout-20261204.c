// SPDX-License-Identifier: MIT
/*
 * bench-results/readpath-layout-20261204.c - a throwaway experiment, kept
 * for the record (BENCHMARKS.md, "The layout against the library's path").
 *
 * In one process, on the same 1M keys (14-byte keys, 100-byte values,
 * uniform), independent lookups on:
 *   f       kvshm-bench's private floor (16-byte slots, malloc()ed items);
 *   k...    kvshm's layout without its library: 64-byte buckets of 8
 *           tagged entries (SSE2 tag match), 128-byte items in one arena;
 *           letters add: s = the arena, buckets and hints in shm_open()
 *           memory (MAP_SHARED), h = an access-hint store per hit, p = the
 *           hint line prefetched with the bucket, e = epoch stores around
 *           the lookup; a digit N adds 5*N*8 register-only instructions.
 * Each variant runs 0.4 s, seven rounds interleaved; ns per lookup.
 *   gcc -O2 -o layout readpath-layout-20261204.c -lxxhash && ./layout
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <emmintrin.h>

#define KLEN 14
#define VLEN 100
static uint64_t N = 1000000;
static char *keys;
static uint64_t *seq;
#define SEQ (1 << 22)

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* floor */
struct pslot { uint64_t tag; char *item; };
static struct pslot *ptab;
static uint64_t pmask;

static int pget(const char *key, char *buf)
{
	uint64_t h = XXH3_64bits(key, KLEN), j = h & pmask;
	for (; ptab[j].item; j = (j + 1) & pmask)
		if (ptab[j].tag == h && memcmp(ptab[j].item, key, KLEN) == 0) {
			memcpy(buf, ptab[j].item + KLEN, VLEN);
			return 0;
		}
	return -1;
}

/* kvshm-like */
static char *arena;
static uint64_t *bk;
static uint32_t *hints;
static char *arenas[2]; static uint64_t *bks[2]; static uint32_t *hintss[2];
static uint64_t nbmask;
static volatile uint64_t *slot_epoch, *gepoch;
static int pad;
static int use_hint, use_pf, use_epoch;

static void *getmem(size_t sz, int shared, const char *nm)
{
	void *p;
	if (!shared) {
		p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	} else {
		char n[64];
		snprintf(n, sizeof n, "/mbexp-%d-%s", getpid(), nm);
		int fd = shm_open(n, O_RDWR | O_CREAT, 0600);
		ftruncate(fd, sz);
		p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		shm_unlink(n);
		close(fd);
	}
	return p;
}

static inline __attribute__((always_inline)) int kget(const char *key, char *buf)
{
	if (use_epoch) {
		*slot_epoch = *gepoch;
		__asm__ volatile("" ::: "memory");
	}
	if (pad) { uint64_t z = (uint64_t)key, z1 = z, z2 = z, z3 = z, z4 = z; for (int q = 0; q < pad; q++) __asm__ volatile("add $1, %0\n\tadd $3, %1\n\tadd $5, %2\n\tadd $7, %3\n\tadd $9, %4" : "+r"(z), "+r"(z1), "+r"(z2), "+r"(z3), "+r"(z4)); }
	uint64_t h = XXH3_64bits(key, KLEN);
	uint16_t tag = h >> 48;
	uint64_t b = h & nbmask;
	const uint64_t *e = &bk[b * 8];
	if (use_pf)
		__builtin_prefetch(&hints[b * 8], 1);
	__m128i want = _mm_set1_epi16((short)tag);
	const __m128i *v = (const __m128i *)e;
	__m128i e01 = _mm_cmpeq_epi16(_mm_load_si128(v), want);
	__m128i e23 = _mm_cmpeq_epi16(_mm_load_si128(v + 1), want);
	__m128i e45 = _mm_cmpeq_epi16(_mm_load_si128(v + 2), want);
	__m128i e67 = _mm_cmpeq_epi16(_mm_load_si128(v + 3), want);
	e01 = _mm_packs_epi32(_mm_packs_epi32(e01, e23), _mm_packs_epi32(e45, e67));
	unsigned bits = (unsigned)_mm_movemask_epi8(_mm_packs_epi16(e01, e01)) & 0xff;
	int rc = -1;
	while (bits) {
		unsigned i = __builtin_ctz(bits);
		bits &= bits - 1;
		uint64_t ent = __atomic_load_n(&e[i], __ATOMIC_ACQUIRE);
		const char *it = arena + (ent & 0xffffffffffffULL);
		uint32_t vl = *(const uint32_t *)it;
		uint16_t kl = *(const uint16_t *)(it + 4);
		if (kl != KLEN || memcmp(it + 12, key, KLEN))
			continue;
		memcpy(buf, it + 12 + KLEN, vl);
		if (use_hint) {
			uint32_t *w = &hints[b * 8 + i];
			uint32_t o = *w;
			*(volatile uint32_t *)w = o + 1;
		}
		rc = 0;
		break;
	}
	if (use_epoch) {
		__asm__ volatile("" ::: "memory");
		*slot_epoch = 0;
	}
	return rc;
}

int main(int argc, char **argv)
{
	uint64_t i;
	int ord = argc > 1 && strchr(argv[1], 'r');
	keys = malloc(N * 16);
	for (i = 0; i < N; i++)
		snprintf(keys + i * 16, 16, "key:%010llu", (unsigned long long)i);
	seq = malloc(SEQ * 8);
	uint64_t x = 88172645463325252ULL;
	for (i = 0; i < SEQ; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		seq[i] = x % N;
	}
	char val[VLEN];
	memset(val, 'v', VLEN);
	{
		uint64_t n = 1;
		while (n < N * 2) n <<= 1;
		ptab = calloc(n, sizeof(*ptab));
		pmask = n - 1;
		for (i = 0; i < N; i++) {
			uint64_t h = XXH3_64bits(keys + i * 16, KLEN), j = h & pmask;
			char *it = malloc(KLEN + VLEN);
			memcpy(it, keys + i * 16, KLEN);
			memcpy(it + KLEN, val, VLEN);
			while (ptab[j].item) j = (j + 1) & pmask;
			ptab[j].tag = h;
			ptab[j].item = it;
		}
	}
	uint64_t nb = 1;
	while (nb * 8 * 0.69 < N) nb <<= 1;
	nbmask = nb - 1;
	slot_epoch = getmem(4096, 1, "s");
	gepoch = slot_epoch + 8;
	*gepoch = 5;
	for (int sh = 0; sh < 2; sh++) {
		bks[sh] = getmem(nb * 64, sh, "b");
		hintss[sh] = getmem(nb * 32, sh, "h");
		arenas[sh] = getmem((N + 1) * 128, sh, "a");
		uint64_t *perm = malloc(N * 8);
		for (i = 0; i < N; i++) perm[i] = i;
		if (ord)
			for (i = N - 1; i > 0; i--) {
				x ^= x << 13; x ^= x >> 7; x ^= x << 17;
				uint64_t j = x % (i + 1), t = perm[i]; perm[i] = perm[j]; perm[j] = t;
			}
		for (i = 0; i < N; i++) {
			uint64_t h = XXH3_64bits(keys + i * 16, KLEN), b = h & nbmask;
			char *it = arenas[sh] + (perm[i] + 1) * 128;
			*(uint32_t *)it = VLEN;
			*(uint16_t *)(it + 4) = KLEN;
			memcpy(it + 12, keys + i * 16, KLEN);
			memcpy(it + 12 + KLEN, val, VLEN);
			int s2;
			for (s2 = 0; s2 < 8 && bks[sh][b * 8 + s2]; s2++);
			if (s2 == 8) continue;
			bks[sh][b * 8 + s2] = ((uint64_t)(h >> 48) << 48) | (uint64_t)(it - arenas[sh]);
		}
	}
	const char *vars[] = { "f", "k", "ks", "khps", "khpse", "khpse1", "khpse2", "khpse4" };
	int nv = 8;
	double best[8][9]; 
	char buf[256];
	for (int rep = 0; rep < 7; rep++)
	for (int v = 0; v < nv; v++) {
		const char *a = vars[v];
		int floor = a[0] == 'f', sh = !!strchr(a, 's');
		use_hint = !!strchr(a, 'h'); use_pf = !!strchr(a, 'p'); use_epoch = !!strchr(a, 'e'); pad = 0; if (strpbrk(a, "0123456789")) pad = 5 * atoi(strpbrk(a, "0123456789"));
		arena = arenas[sh]; bk = bks[sh]; hints = hintss[sh];
		uint64_t ops = 0, err = 0, pos = rep * 12345 + v * 777;
		double t0 = now(), end = t0 + 0.4;
		while (now() < end) {
			for (int k = 0; k < 4096; k++) {
				const char *key = keys + seq[pos] * 16;
				pos = (pos + 1) & (SEQ - 1);
				err += floor ? pget(key, buf) != 0 : kget(key, buf) != 0;
			}
			ops += 4096;
		}
		best[v][rep] = (now() - t0) / ops * 1e9;
	}
	for (int v = 0; v < nv; v++) {
		printf("%-6s", vars[v]);
		for (int r = 0; r < 7; r++) printf(" %6.1f", best[v][r]);
		printf("\n");
	}
	return 0;
}
