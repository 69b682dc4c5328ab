/*
 * A/B of libkvshm builds against one kvshmd (throwaway, kept for the
 * record; BENCHMARKS.md "cheaper checks"): each build is copied and
 * dlopen()ed on its own, and every round runs 2M independent GET hits
 * over 1M uniform 14-byte keys through each build in turn, then through
 * a private table (kvshm-bench's floor), in one process against the same
 * segment: the same keys on the same physical pages, which separate
 * kvshm-bench runs (a new daemon each) do not keep.
 *
 *   gcc -O2 -I include -o ab bench-results/ab-libs-20261204.c -ldl -lxxhash
 *   build/daemon/kvshmd --foreground --name abtest --data-dir DIR \
 *       --memory 512M &
 *   taskset -c 1 ./ab abtest 16 old.so new.so   # loads keys if absent
 *
 * Prints ns per GET per round, the best and mean of each, and the
 * median over rounds of each build's ratio to that round's floor.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>
#include "kvshm.h"

#define KLEN 14
#define NKEYS 1000000
#define VS 100
#define NOPS 2000000
static char *keys; static uint32_t *seq;
typedef int (*open_f)(kvshm_t **, const char *, const void *);
typedef int (*get_f)(kvshm_t *, const void *, size_t, void *, size_t, size_t *);
typedef int (*mset_f)(kvshm_t *, const struct kvshm_kv *, size_t);
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e9+t.tv_nsec;}
struct ps { uint64_t tag; char *item; }; static struct ps *pt; static uint64_t pm;
static int pget(const char *k, void *buf){uint64_t h=XXH3_64bits(k,KLEN),j=h&pm;
 for(;pt[j].item;j=(j+1)&pm) if(pt[j].tag==h&&memcmp(pt[j].item,k,KLEN)==0){memcpy(buf,pt[j].item+KLEN,VS);return 0;} return -1;}
int main(int argc, char **argv)
{
	int nlib = argc - 3, rounds = atoi(argv[2]), r, l; uint64_t i, n = 1;
	void *h[8]; get_f g[8]; kvshm_t *c[8]; char buf[256]; size_t vl;
	double best[9], sum[9]; static double rr[9][200];
	keys = malloc(NKEYS * KLEN + 16); seq = malloc(NOPS * 4);
	for (i = 0; i < NKEYS; i++) { char k[32]; snprintf(k, 32, "key:%010llu", (unsigned long long)i); memcpy(keys + i * KLEN, k, KLEN); }
	uint64_t x = 88172645463325252ULL;
	for (i = 0; i < NOPS; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; seq[i] = x % NKEYS; }
	while (n < NKEYS * 2) n <<= 1; pt = calloc(n, sizeof(*pt)); pm = n - 1;
	for (i = 0; i < NKEYS; i++) { uint64_t hh = XXH3_64bits(keys + i*KLEN, KLEN), j = hh & pm; char *it = malloc(KLEN+VS); memcpy(it, keys+i*KLEN, KLEN); memset(it+KLEN, 'v', VS); while (pt[j].item) j=(j+1)&pm; pt[j].tag=hh; pt[j].item=it; }
	for (l = 0; l < nlib; l++) {
		char p[256]; snprintf(p, sizeof p, "/tmp/ab/copy%d.so", l);
		char cmd[600]; snprintf(cmd, sizeof cmd, "cp %s %s", argv[3 + l], p); if (system(cmd)) return 1;
		h[l] = dlopen(p, RTLD_NOW | RTLD_LOCAL); if (!h[l]) { fprintf(stderr, "%s\n", dlerror()); return 1; }
		g[l] = (get_f)dlsym(h[l], "kvshm_get");
		if (((open_f)dlsym(h[l], "kvshm_open"))(&c[l], argv[1], NULL)) { fprintf(stderr, "open\n"); return 1; }
	}
	if (g[0](c[0], keys + (NKEYS - 1) * KLEN, KLEN, buf, sizeof buf, &vl)) {
		mset_f ms = (mset_f)dlsym(h[0], "kvshm_mset"); struct kvshm_kv kv[2000]; char v[VS]; memset(v, 'v', VS);
		for (i = 0; i < NKEYS; i += 2000) { for (int j = 0; j < 2000; j++) { kv[j].key = keys + (i + j) * KLEN; kv[j].klen = KLEN; kv[j].val = v; kv[j].vlen = VS; kv[j].ttl_ms = 0; }
			if (ms(c[0], kv, 2000)) { fprintf(stderr, "mset\n"); return 1; } }
	}
	for (l = 0; l <= nlib; l++) { best[l] = 1e18; sum[l] = 0; }
	for (r = 0; r < rounds; r++) {
		for (l = 0; l <= nlib; l++) {
			double t0 = now(); int err = 0;
			if (l == nlib) { for (i = 0; i < NOPS; i++) err += pget(keys + seq[i] * KLEN, buf) != 0; }
			else for (i = 0; i < NOPS; i++) err += g[l](c[l], keys + seq[i] * KLEN, KLEN, buf, sizeof buf, &vl) != 0;
			double ns = (now() - t0) / NOPS; if (err) { fprintf(stderr, "errors %d\n", err); return 1; }
			if (ns < best[l]) best[l] = ns; sum[l] += ns; rr[l][r] = ns;
			printf("%6.1f ", ns);
		}
		printf("\n"); fflush(stdout);
	}
	printf("best:"); for (l = 0; l <= nlib; l++) printf(" %6.1f", best[l]); printf("\nmean:");
	for (l = 0; l <= nlib; l++) printf(" %6.1f", sum[l] / rounds); printf("\nratio to floor (mean):");
	for (l = 0; l < nlib; l++) printf(" %.2f", sum[l] / sum[nlib]);
	printf("\nmedian per-round ratio:");
	for (l = 0; l < nlib; l++) { double v[200]; int k, j; for (k = 0; k < rounds; k++) v[k] = rr[l][k] / rr[nlib][k];
		for (k = 1; k < rounds; k++) for (j = k; j > 0 && v[j-1] > v[j]; j--) { double tt = v[j]; v[j] = v[j-1]; v[j-1] = tt; }
		printf(" %.3f", v[rounds / 2]); }
	printf("\n");
	return 0;
}
