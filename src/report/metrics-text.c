/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/report/metrics-text.h"

#include <inttypes.h>

const char *prom_label_escape(char *buf, size_t size, const char *s)
{
        size_t n = 0;

        if (size == 0)
                return buf;
        for (; s && *s; s++) {
                char esc = *s == '\\' ? '\\' : *s == '"' ? '"' : *s == '\n' ? 'n' : 0;
                size_t need = esc ? 2 : 1;

                if (n + need >= size)
                        break;
                if (esc) {
                        buf[n++] = '\\';
                        buf[n++] = esc;
                } else
                        buf[n++] = *s;
        }
        buf[n] = 0;
        return buf;
}

void prom_family(FILE *f, const char *name, const char *type, const char *help)
{
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* From a millisecond to a minute: a period is usually well under a second, a slow host's QMP
 * round trips can stretch one to its query timeout. */
const double prom_duration_buckets[PROM_DURATION_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                             0.1,   0.25,   0.5,   1,    5,     60};

void prom_histogram_observe(struct prom_histogram *h, double seconds)
{
        size_t i = 0;

        while (i < PROM_DURATION_BUCKETS && seconds > prom_duration_buckets[i])
                i++;
        h->counts[i]++;
        h->count++;
        h->sum += seconds;
}

void prom_histogram_write(FILE *f, const char *name, const struct prom_histogram *h)
{
        uint64_t cumulative = 0;

        for (size_t i = 0; i < PROM_DURATION_BUCKETS; i++) {
                cumulative += h->counts[i];
                fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, prom_duration_buckets[i], cumulative);
        }
        fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
        fprintf(f, "%s_sum %.9f\n%s_count %" PRIu64 "\n", name, h->sum, name, h->count);
}
