/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hinting-fault statistics from /proc/PID/task/TID/sched, and their per-period deltas. */
#include "sampler-sched.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vnuma/basic/fileio.h"
#include "vnuma/basic/macro.h"
#include "vnuma/basic/parse-util.h"

#define SCHED_FILE_MAX (256 * 1024)
#define LINE_MAX_LEN   512

static const char *const fault_keys[] = {"node", "task_private", "task_shared", "group_private",
                                         "group_shared"};

/* "numa_faults node=N task_private=A task_shared=B group_private=C group_shared=D" */
static int parse_faults_line(char *line, struct sched_node_faults *ret)
{
        struct sched_node_faults f = {};
        uint64_t *values[] = {NULL, &f.task_private, &f.task_shared, &f.group_private, &f.group_shared};
        char *save = NULL, *tok;
        unsigned i = 0;

        tok = strtok_r(line, " \t", &save);
        if (!tok || !streq(tok, "numa_faults"))
                return -EBADMSG;
        while ((tok = strtok_r(NULL, " \t", &save))) {
                char *eq = strchr(tok, '=');

                if (i >= ELEMENTSOF(fault_keys) || !eq)
                        return -EBADMSG;
                *eq = '\0';
                if (!streq(tok, fault_keys[i]))
                        return -EBADMSG;
                if (i == 0) {
                        if (safe_atoi(eq + 1, &f.node) < 0 || f.node < 0)
                                return -EBADMSG;
                } else if (safe_atou64(eq + 1, values[i]) < 0)
                        return -EBADMSG;
                i++;
        }
        if (i != ELEMENTSOF(fault_keys))
                return -EBADMSG;
        *ret = f;
        return 0;
}

/* "mm->numa_scan_seq     :     3" */
static int parse_seq_line(const char *line, uint64_t *ret)
{
        const char *p = line + strlen("mm->numa_scan_seq");
        char buf[32];
        size_t n;

        p += strspn(p, " \t");
        if (*p != ':')
                return -EBADMSG;
        p++;
        p += strspn(p, " \t");
        n = strcspn(p, " \t");
        if (n == 0 || n >= sizeof(buf) || p[n + strspn(p + n, " \t")] != '\0')
                return -EBADMSG;
        memcpy(buf, p, n);
        buf[n] = '\0';
        return safe_atou64(buf, ret) < 0 ? -EBADMSG : 0;
}

static bool starts_with_word(const char *line, const char *word)
{
        size_t n = strlen(word);
        return strncmp(line, word, n) == 0 &&
               (line[n] == ' ' || line[n] == '\t' || line[n] == '\n' || line[n] == '\0');
}

int sched_numa_faults_parse(const char *text, struct sched_numa_faults *ret, unsigned *ret_line)
{
        struct sched_numa_faults out = {};
        unsigned lineno = 0;
        int r = 0;

        for (const char *p = text; *p;) {
                size_t len = strcspn(p, "\n");
                char line[LINE_MAX_LEN];
                bool faults, seq;

                lineno++;
                faults = starts_with_word(p, "numa_faults");
                seq = starts_with_word(p, "mm->numa_scan_seq");
                if (faults || seq) {
                        if (len >= sizeof(line)) {
                                r = -EBADMSG;
                                break;
                        }
                        memcpy(line, p, len);
                        line[len] = '\0';
                }
                if (seq) {
                        r = out.have_scan_seq ? -EBADMSG : parse_seq_line(line, &out.scan_seq);
                        if (r < 0)
                                break;
                        out.have_scan_seq = true;
                } else if (faults) {
                        struct sched_node_faults f;

                        r = parse_faults_line(line, &f);
                        if (r < 0)
                                break;
                        for (unsigned i = 0; i < out.n_nodes; i++)
                                if (out.node[i].node == f.node)
                                        r = -EBADMSG;
                        if (r == 0 && out.n_nodes >= SCHED_FAULT_NODES_MAX)
                                r = -E2BIG;
                        if (r < 0)
                                break;
                        out.node[out.n_nodes++] = f;
                }
                p += len;
                if (*p == '\n')
                        p++;
        }
        if (r < 0) {
                if (ret_line)
                        *ret_line = lineno;
                return r;
        }
        *ret = out;
        return 0;
}

int sched_numa_faults_read(const char *procfs_root, pid_t pid, pid_t tid, struct sched_numa_faults *ret,
                           unsigned *ret_line)
{
        _cleanup_free_ char *text = NULL;
        char path[96];
        int r;

        snprintf(path, sizeof(path), "/%d/task/%d/sched", (int)pid, (int)tid);
        r = read_full_file_at(procfs_root ?: "/proc", path, SCHED_FILE_MAX, &text, NULL);
        if (r < 0)
                return r;
        return sched_numa_faults_parse(text, ret, ret_line);
}

uint64_t sched_faults_decay(uint64_t v, unsigned n)
{
        for (unsigned i = 0; i < n && v > 0; i++)
                v -= v / 2;
        return v;
}

uint64_t sched_counter_delta(uint64_t prev, uint64_t cur, unsigned decays)
{
        uint64_t expected = sched_faults_decay(prev, decays);
        return cur >= expected ? cur - expected : cur;
}

static const struct sched_node_faults *find_node(const struct sched_numa_faults *f, int node)
{
        for (unsigned i = 0; i < f->n_nodes; i++)
                if (f->node[i].node == node)
                        return &f->node[i];
        return NULL;
}

unsigned sched_decays_between(const struct sched_numa_faults *prev, const struct sched_numa_faults *cur)
{
        uint64_t seq_delta = 1;
        bool changed = false;

        /* A node new to this reading (onlined) changes nothing unless it has faults. */
        for (unsigned i = 0; i < cur->n_nodes && !changed; i++) {
                const struct sched_node_faults *a = find_node(prev, cur->node[i].node), *b = &cur->node[i];
                changed = a ? a->task_private != b->task_private || a->task_shared != b->task_shared
                            : b->task_private + b->task_shared > 0;
        }
        if (!changed)
                return 0;
        if (prev->have_scan_seq && cur->have_scan_seq && cur->scan_seq > prev->scan_seq)
                seq_delta = cur->scan_seq - prev->scan_seq;
        return (unsigned)MIN(seq_delta, (uint64_t)64);
}

void sched_faults_delta(const struct sched_numa_faults *prev, const struct sched_numa_faults *cur,
                        void (*fn)(int node, uint64_t faults, void *userdata), void *userdata)
{
        unsigned decays = prev ? sched_decays_between(prev, cur) : 0;
        /* A smaller scan_seq means another mm (exec, or a new process with this tid): start over. */
        bool restarted = prev && prev->have_scan_seq && cur->have_scan_seq && cur->scan_seq < prev->scan_seq;

        for (unsigned i = 0; i < cur->n_nodes; i++) {
                const struct sched_node_faults *b = &cur->node[i], *a;
                uint64_t faults;

                a = prev ? find_node(prev, b->node) : NULL;
                if (!prev)
                        faults = 0;
                else if (!a || restarted)
                        faults = b->task_private + b->task_shared;
                else
                        faults = sched_counter_delta(a->task_private, b->task_private, decays) +
                                 sched_counter_delta(a->task_shared, b->task_shared, decays);
                fn(b->node, faults, userdata);
        }
}
