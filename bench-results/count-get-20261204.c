/*
 * Instructions per kvshm_get (throwaway, kept for the record): N GETs of
 * existing keys through the libkvshm build given, for
 *
 *   valgrind --tool=callgrind --toggle-collect=kvshm_get \
 *       ./count abtest path/to/libkvshm.so 20000
 *
 * ("Collected" / N; the first GET's slot request adds ~0.1 per GET).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kvshm.h"
typedef int (*open_f)(kvshm_t **, const char *, const void *);
typedef int (*get_f)(kvshm_t *, const void *, size_t, void *, size_t, size_t *);
int main(int argc, char **argv)
{
	void *h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL); kvshm_t *c; char buf[256], k[32]; size_t vl; int n = atoi(argv[3]), bad = 0;
	get_f g = (get_f)dlsym(h, "kvshm_get");
	if (((open_f)dlsym(h, "kvshm_open"))(&c, argv[1], NULL)) return 1;
	for (int i = 0; i < n; i++) { snprintf(k, 32, "key:%010d", (i * 7919) % 1000000); bad += g(c, k, 14, buf, sizeof buf, &vl) != 0; }
	printf("bad %d\n", bad); return 0;
}
