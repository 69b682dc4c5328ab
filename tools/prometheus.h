/* SPDX-License-Identifier: MIT */
/*
 * tools/prometheus.h - kvshmctl stats --prometheus: the daemon's stats
 * text (kvshm_stats(3)) in the Prometheus text exposition format 0.0.4.
 */
#ifndef KVSHMCTL_PROMETHEUS_H
#define KVSHMCTL_PROMETHEUS_H

#include <stdio.h>

/*
 * prom_write - write @text, "name value" lines, to @f as metric families
 * kvshm_*, every sample labelled name="CACHE" (the stat "name", else
 * @cache). Return 0, or -1 with errno set (out of memory).
 */
int prom_write(FILE *f, const char *text, const char *cache);

#endif /* KVSHMCTL_PROMETHEUS_H */
