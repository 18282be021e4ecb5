/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The Prometheus text exposition format: label values are escaped (backslash, double quote and
 * line feed as \\, \" and \n), so a VM name can never end a label or start a new sample. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROM_LABEL_MAX 512

/* s escaped into buf (of size bytes, NUL-terminated); cut before an escape that would not fit.
 * Returns buf. */
const char *prom_label_escape(char *buf, size_t size, const char *s);
/* For one fprintf argument: the buffer lives until the end of the enclosing block. */
#define PROM_LABEL(s) prom_label_escape((char[PROM_LABEL_MAX]){0}, PROM_LABEL_MAX, (s))

/* A family's "# HELP" and "# TYPE" lines, which precede its samples. name follows
 * [a-zA-Z_:][a-zA-Z0-9_:]*, base units (_bytes, _seconds), counters end in _total; type is
 * counter, gauge or histogram; help is one line without backslashes. */
void prom_family(FILE *f, const char *name, const char *type, const char *help);

/* The upper bounds ("le") of vnumad's duration histograms, in seconds, without +Inf. */
#define PROM_DURATION_BUCKETS 12
extern const double prom_duration_buckets[PROM_DURATION_BUCKETS];
/* Observations of one histogram: counts[i] are those <= bucket i and above bucket i-1, and
 * counts[PROM_DURATION_BUCKETS] those above every bound. */
struct prom_histogram {
        uint64_t counts[PROM_DURATION_BUCKETS + 1];
        uint64_t count;
        double sum;
};
void prom_histogram_observe(struct prom_histogram *h, double seconds);
/* The _bucket (cumulative, le="+Inf" last), _sum and _count samples of family name. */
void prom_histogram_write(FILE *f, const char *name, const struct prom_histogram *h);
