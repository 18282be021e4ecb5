/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /proc/stat CPU times and per-node MemFree, parsed for the per-period host snapshot. */
#include "sampler-hoststat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vnuma/basic/macro.h"
#include "vnuma/basic/parse-util.h"

#define STAT_LINE_MAX 512
/* user nice system idle iowait irq softirq steal guest guest_nice */
#define STAT_FIELDS_MAX 10
#define STAT_IDLE       3
#define STAT_IOWAIT     4
#define STAT_STEAL      7

static int parse_cpu_line(char *line, int *ret_cpu, struct cpu_times *ret)
{
        uint64_t v[STAT_FIELDS_MAX] = {}, total = 0;
        char *save = NULL, *tok;
        unsigned n = 0;
        int cpu;

        tok = strtok_r(line, " \t", &save);
        if (!tok || safe_atoi(tok + 3, &cpu) < 0 || cpu < 0)
                return -EBADMSG;
        while ((tok = strtok_r(NULL, " \t", &save))) {
                if (n >= STAT_FIELDS_MAX)
                        break; /* a newer kernel's extra column */
                if (safe_atou64(tok, &v[n++]) < 0)
                        return -EBADMSG;
        }
        if (n < 4)
                return -EBADMSG;
        /* guest and guest_nice are already counted in user and nice. */
        for (unsigned i = 0; i < MIN(n, (unsigned)STAT_STEAL + 1); i++) {
                if (total > UINT64_MAX - v[i])
                        return -EBADMSG;
                total += v[i];
        }
        *ret_cpu = cpu;
        *ret = (struct cpu_times){
                .valid = true,
                .busy = total - v[STAT_IDLE] - v[STAT_IOWAIT],
                .total = total,
        };
        return 0;
}

int proc_stat_cpu_times_parse(const char *text, struct cpu_times *times, size_t n, unsigned *ret_line)
{
        unsigned lineno = 0;

        memset(times, 0, n * sizeof(*times));
        for (const char *p = text; *p;) {
                size_t len = strcspn(p, "\n");

                lineno++;
                /* "cpuN": "cpu" followed by a digit; the aggregate "cpu " line is skipped. */
                if (strncmp(p, "cpu", 3) == 0 && p[3] >= '0' && p[3] <= '9') {
                        char line[STAT_LINE_MAX];
                        struct cpu_times t;
                        int cpu, r;

                        r = len < sizeof(line) ? 0 : -EBADMSG;
                        if (r == 0) {
                                memcpy(line, p, len);
                                line[len] = '\0';
                                r = parse_cpu_line(line, &cpu, &t);
                        }
                        if (r == 0 && (size_t)cpu < n && times[cpu].valid)
                                r = -EBADMSG;
                        if (r < 0) {
                                if (ret_line)
                                        *ret_line = lineno;
                                return r;
                        }
                        if ((size_t)cpu < n)
                                times[cpu] = t;
                }
                p += len;
                if (*p == '\n')
                        p++;
        }
        return 0;
}

double cpu_times_load(const struct cpu_times *prev, const struct cpu_times *cur, size_t n,
                      const struct idset *cpus)
{
        double load = 0;

        IDSET_FOREACH (cpu, cpus) {
                uint64_t dt, db;

                if ((size_t)cpu >= n || !prev[cpu].valid || !cur[cpu].valid)
                        continue;
                if (cur[cpu].total <= prev[cpu].total || cur[cpu].busy < prev[cpu].busy)
                        continue;
                dt = cur[cpu].total - prev[cpu].total;
                db = cur[cpu].busy - prev[cpu].busy;
                load += (double)MIN(db, dt) / (double)dt;
        }
        return load;
}

int node_meminfo_free_parse(const char *text, int node_id, uint64_t *ret_bytes, unsigned *ret_line)
{
        unsigned lineno = 0;

        for (const char *p = text; *p;) {
                size_t len = strcspn(p, "\n");
                const char *key = memmem(p, len, "MemFree:", 8);

                lineno++;
                if (key) {
                        char line[256], unit[8];
                        unsigned long long kb;
                        int id, consumed = 0;

                        if (len >= sizeof(line))
                                goto bad;
                        memcpy(line, p, len);
                        line[len] = '\0';
                        if (strchr(line, '-') ||
                            sscanf(line, "Node %d MemFree: %llu %7s%n", &id, &kb, unit, &consumed) != 3 ||
                            line[consumed + strspn(line + consumed, " \t")] != '\0' || id != node_id ||
                            !streq(unit, "kB") || kb > UINT64_MAX / 1024)
                                goto bad;
                        *ret_bytes = (uint64_t)kb * 1024;
                        return 0;
                }
                p += len;
                if (*p == '\n')
                        p++;
        }
        lineno = 0;
bad:
        if (ret_line)
                *ret_line = lineno;
        return -EBADMSG;
}
