/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pins: one CPU set for a group of threads of one QEMU, all or none. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actuator-internal.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/host/proc-task.h"

_Static_assert(IDSET_MAX <= CPU_SETSIZE, "a CPU id set must fit a cpu_set_t");

/* The threads an action names: vCPU indexes through the model, or the non-vCPU threads. The
 * latter are listed afresh: QEMU starts and ends worker threads all the time, and a list from
 * when the model was learned would name threads long gone (and the pin would never apply). */
static int pin_tids(const struct action *act, const struct guest_model *m, const char *procfs_root,
                    pid_t **ret, size_t *ret_n)
{
        _cleanup_free_ pid_t *tids = NULL;
        size_t n = 0;

        if (act->type == ACTION_PIN_VCPUS) {
                int count = idset_count(&act->vcpus);

                if (count == 0)
                        return -EINVAL;
                tids = calloc((size_t)count, sizeof(*tids));
                if (!tids)
                        return -ENOMEM;
                IDSET_FOREACH (index, &act->vcpus) {
                        unsigned i;

                        for (i = 0; i < m->n_vcpus && m->vcpus[i].index != index; i++)
                                ;
                        if (i == m->n_vcpus || m->vcpus[i].tid <= 0)
                                return -ENOENT;
                        tids[n++] = m->vcpus[i].tid;
                }
        } else {
                /* Emulator and iothreads: every thread of QEMU that is not a vCPU. */
                size_t n_all = 0;
                int r = proc_task_list(procfs_root, m->pid, &tids, &n_all);

                if (r < 0)
                        return r == -ENOENT ? -ESRCH : r;
                for (size_t i = 0; i < n_all; i++) {
                        bool vcpu = false;

                        for (unsigned v = 0; v < m->n_vcpus; v++)
                                vcpu = vcpu || m->vcpus[v].tid == tids[i];
                        if (!vcpu)
                                tids[n++] = tids[i];
                }
                if (n == 0)
                        return -ESRCH;
        }
        *ret = TAKE_PTR(tids);
        *ret_n = n;
        return 0;
}

static int online_cpus(const char *sysfs_root, struct idset *ret)
{
        _cleanup_free_ char *line = NULL;
        int r;

        r = read_one_line_at(sysfs_root, "devices/system/cpu/online", &line);
        if (r < 0)
                return r;
        r = idset_parse(line, ret);
        return r < 0 ? -EBADMSG : 0;
}

/* A tid is only ours if it is listed under the QEMU's own task directory (tids get reused). */
static int thread_of(const char *procfs_root, pid_t pid, pid_t tid)
{
        _cleanup_free_ char *path = NULL;
        char rel[64];
        int r;

        if (tid <= 0)
                return -ESRCH;
        snprintf(rel, sizeof(rel), "%d/task/%d", (int)pid, (int)tid);
        r = path_join_root(procfs_root, rel, &path);
        if (r < 0)
                return r;
        if (access(path, F_OK) < 0)
                return errno == ENOENT ? -ESRCH : negative_errno();
        return 0;
}

static void format_tids(const pid_t *tids, size_t n, char *buf, size_t size)
{
        size_t used = 0;

        buf[0] = 0;
        for (size_t i = 0; i < n && used < size; i++) {
                int w = snprintf(buf + used, size - used, "%s%d", i ? "," : "", (int)tids[i]);

                if (w < 0 || (size_t)w >= size - used) {
                        snprintf(buf + used, size - used, "…");
                        break;
                }
                used += (size_t)w;
        }
}

int actuator_pin(struct actuator *a, const struct action *act, const struct guest_model *m,
                 struct actuator_result *res, char *line, size_t size)
{
        _cleanup_free_ pid_t *tids = NULL;
        _cleanup_free_ cpu_set_t *old = NULL;
        struct idset online, outside;
        char cpus_text[128], tids_text[96];
        cpu_set_t mask;
        size_t n = 0;
        int r;

        if (idset_format(&act->cpus, cpus_text, sizeof(cpus_text)) < 0)
                snprintf(cpus_text, sizeof(cpus_text), "(long list)");
        snprintf(line, size, "cpus %s", cpus_text);

        r = pin_tids(act, m, a->procfs_root, &tids, &n);
        if (r < 0) {
                snprintf(line, size, "cpus %s: %s", cpus_text,
                         r == -ENOENT ? "a vCPU index the model does not have" : "no threads named");
                return r;
        }
        format_tids(tids, n, tids_text, sizeof(tids_text));
        snprintf(line, size, "threads %s -> cpus %s", tids_text, cpus_text);

        /* Everything is checked before any mask changes. */
        if (idset_is_empty(&act->cpus))
                return -EINVAL;
        r = online_cpus(a->sysfs_root, &online);
        if (r < 0)
                return r;
        outside = act->cpus;
        for (int w = 0; w < IDSET_MAX / 64; w++)
                outside.w[w] &= ~online.w[w];
        if (!idset_is_empty(&outside))
                return -EINVAL;
        old = calloc(n, sizeof(*old));
        if (!old)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = thread_of(a->procfs_root, m->pid, tids[i]);
                if (r >= 0 && sched_getaffinity(tids[i], sizeof(old[i]), &old[i]) < 0)
                        r = negative_errno();
                if (r == -ESRCH && act->type == ACTION_PIN_EMULATOR) {
                        /* A worker thread that ended meanwhile: nothing to pin. */
                        tids[i--] = tids[--n];
                        continue;
                }
                if (r < 0)
                        return r;
        }
        CPU_ZERO(&mask);
        IDSET_FOREACH (cpu, &act->cpus)
                CPU_SET(cpu, &mask);
        for (size_t i = 0; i < n; i++) {
                r = a->setaffinity(tids[i], &mask);
                if (r == -ESRCH && act->type == ACTION_PIN_EMULATOR)
                        continue; /* ended between the check and now */
                if (r < 0) {
                        /* No half-applied pin: the threads done so far get their old masks back. */
                        for (size_t j = i; j-- > 0;)
                                (void)a->setaffinity(tids[j], &old[j]);
                        return r;
                }
        }
        res->threads_pinned = (unsigned)n;
        return 0;
}
