/* SPDX-License-Identifier: MIT */
/*
 * tools/churnload.h - the churn workload that kvshm-churn runs against a
 * kvshmd and kvshm-heapsim replays offline: keys "c" + 13 digits, values
 * drawn per phase (uniform or log-uniform between two sizes), scenarios
 * of fill and churn phases. One definition, so the two tools' figures
 * stay comparable.
 */
#ifndef KVT_CHURNLOAD_H
#define KVT_CHURNLOAD_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "splitmix.h"

#define KLEN		14		/* "c" + 13 decimal digits */
#define ITEM_HDR	12		/* struct kvs_item (shm/layout.h); 16
					 * before layout version 8 */
#define MAX_VALUE	65536
#define MAX_PHASES	4

enum dist { UNIFORM, LOGUNIFORM };

struct phase {
	const char *name;
	bool fill;			/* write until full, else churn */
	enum dist dist;
	uint32_t lo, hi;		/* value bytes, inclusive */
};

struct scenario {
	const char *name;
	struct phase ph[MAX_PHASES];
	unsigned int nph;
};

/*
 * The scenarios both tools run, as initialisers of a struct scenario
 * array: mixed, uniform 16..1024 B; shift, ~100 B then ~1000 B then ~100
 * B again over the same keys; wide, log-uniform 10 B..64 KiB.
 */
#define KVT_CHURN_SCENARIOS						\
	{ "mixed", {							\
		{ "fill", true, UNIFORM, 16, 1024 },			\
		{ "churn", false, UNIFORM, 16, 1024 },			\
	}, 2 },								\
	{ "shift", {							\
		{ "fill ~100 B", true, UNIFORM, 90, 110 },		\
		{ "churn ~1000 B", false, UNIFORM, 900, 1100 },		\
		{ "refill ~100 B", true, UNIFORM, 90, 110 },		\
		{ "churn ~100 B", false, UNIFORM, 90, 110 },		\
	}, 4 },								\
	{ "wide", {							\
		{ "fill", true, LOGUNIFORM, 10, MAX_VALUE },		\
		{ "churn", false, LOGUNIFORM, 10, MAX_VALUE },		\
	}, 2 }

/* A value length for phase @p, from the generator @rng. */
static inline uint32_t kvt_draw_vlen(const struct phase *p, uint64_t *rng)
{
	double l;

	if (p->dist == UNIFORM)
		return p->lo + (uint32_t)(kvt_splitmix(rng) % (p->hi - p->lo + 1));
	l = log(p->lo) + kvt_unit(rng) * (log(p->hi + 1.0) - log(p->lo));
	l = exp(l);
	return l >= p->hi ? p->hi : (uint32_t)l;
}

/* The mean item (header, key, value) phase @p writes. */
static inline double kvt_mean_item(const struct phase *p)
{
	double v = p->dist == UNIFORM ? (p->lo + p->hi) / 2.0 :
		   (p->hi + 1.0 - p->lo) / (log(p->hi + 1.0) - log(p->lo));

	return ITEM_HDR + KLEN + v;
}

/*
 * kvt_pick_scenarios - set @want[i] for each scenario of @sc[0..@n) named
 * in the comma-separated @list. -1 (after a message naming @prog) if a
 * name is unknown or memory runs out, else 0.
 */
static inline int kvt_pick_scenarios(const char *prog, const char *list,
				     const struct scenario *sc, size_t n,
				     bool *want)
{
	char *copy = strdup(list), *tok, *save = NULL;
	size_t i;

	if (!copy) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return -1;
	}
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < n; i++)
			if (!strcmp(tok, sc[i].name))
				break;
		if (i == n) {
			fprintf(stderr, "%s: no scenario '%s'\n", prog, tok);
			free(copy);
			return -1;
		}
		want[i] = true;
	}
	free(copy);
	return 0;
}

#endif /* KVT_CHURNLOAD_H */
