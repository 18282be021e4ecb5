/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* guest_model_query()'s threads: vCPUs from query-cpus-fast, the QEMU process they belong to,
 * and QEMU's other threads from /proc/PID/task and query-iothreads. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "guest-query-internal.h"
#include "vnuma/basic/json-util.h"
#include "vnuma/host/proc-task.h"

static int cmp_vcpu(const void *a, const void *b)
{
        const struct guest_vcpu *x = a, *y = b;
        return (x->index > y->index) - (x->index < y->index);
}

int guest_query_vcpus(struct query_ctx *c)
{
        _cleanup_json_ struct json_object *ret = NULL;
        size_t n;
        int r;

        r = qmp_client_execute(c->qmp, "query-cpus-fast", NULL, &ret);
        if (r < 0)
                return qmp_fail(c, r);
        if (!json_object_is_type(ret, json_type_array))
                return fail(c, -EBADMSG, "query-cpus-fast: reply is not an array");
        n = json_object_array_length(ret);
        if (n == 0)
                return fail(c, -EBADMSG, "query-cpus-fast: the guest has no vCPUs");
        if (n > GUEST_MAX_VCPUS)
                return fail_too_many(c, "query-cpus-fast", n, GUEST_MAX_VCPUS);
        c->m->vcpus = calloc(n, sizeof(*c->m->vcpus));
        if (!c->m->vcpus)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(ret, i), *props;
                int64_t index, tid, node = 0;

                if (json_member_int64(e, "cpu-index", &index) < 0 || index < 0 || index >= IDSET_MAX)
                        return fail(c, -EBADMSG,
                                    "query-cpus-fast: element %zu: missing or bad \"cpu-index\"", i);
                if (json_member_int64(e, "thread-id", &tid) < 0 || tid <= 0 || tid > INT32_MAX)
                        return fail(c, -EBADMSG,
                                    "query-cpus-fast: element %zu: missing or bad \"thread-id\"", i);
                if (json_member_object(e, "props", &props) == 0) {
                        r = json_member_int64(props, "node-id", &node);
                        if (r == -EBADMSG || node < 0 || node >= IDSET_MAX)
                                return fail(c, -EBADMSG, "query-cpus-fast: element %zu: bad \"node-id\"", i);
                        if (r == -ENOENT)
                                node = 0; /* no vNUMA: everything is node 0 */
                }
                c->m->vcpus[c->m->n_vcpus++] = (struct guest_vcpu){
                        .index = (int)index,
                        .tid = (pid_t)tid,
                        .cell = (int)node,
                };
        }
        qsort(c->m->vcpus, c->m->n_vcpus, sizeof(*c->m->vcpus), cmp_vcpu);
        for (unsigned j = 1; j < c->m->n_vcpus; j++)
                if (c->m->vcpus[j].index == c->m->vcpus[j - 1].index)
                        return fail(c, -EBADMSG, "query-cpus-fast: duplicate cpu-index %d",
                                    c->m->vcpus[j].index);
        return 0;
}

/* The QEMU pid is the thread group of its vCPU threads; this works for any transport. */
int guest_query_pid(struct query_ctx *c)
{
        pid_t pid = 0;

        for (unsigned i = 0; i < c->m->n_vcpus; i++) {
                pid_t tgid;
                int r = proc_tgid_of(c->procfs_root, c->m->vcpus[i].tid, &tgid);

                if (r < 0)
                        return fail(c, r, "/proc/%d/status: cannot read vCPU %d's thread: %s",
                                    (int)c->m->vcpus[i].tid, c->m->vcpus[i].index, strerror(-r));
                if (pid && tgid != pid)
                        return fail(c, -EBADMSG,
                                    "query-cpus-fast: vCPU threads belong to different processes (%d, %d); "
                                    "is the QMP socket served by a QEMU in another PID namespace?",
                                    (int)pid, (int)tgid);
                pid = tgid;
        }
        c->m->pid = pid;
        return 0;
}

static int cmp_pid(const void *a, const void *b)
{
        pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
        return (x > y) - (x < y);
}

struct iothread_tid {
        pid_t tid;
        const char *id; /* borrowed from the reply */
};

static int cmp_iothread(const void *a, const void *b)
{
        return cmp_pid(&((const struct iothread_tid *)a)->tid, &((const struct iothread_tid *)b)->tid);
}

static bool tid_in(const pid_t *sorted, size_t n, pid_t tid)
{
        return bsearch(&tid, sorted, n, sizeof(*sorted), cmp_pid) != NULL;
}

/* The iothreads QEMU reports, sorted by thread id for lookups; entries without a usable id or
 * thread id are skipped (their threads count as emulator threads). */
static int iothread_index(struct query_ctx *c, struct json_object *iothreads, struct iothread_tid **ret,
                          size_t *ret_n)
{
        size_t n = json_object_array_length(iothreads), k = 0;
        struct iothread_tid *v;

        if (n > GUEST_MAX_IOTHREADS)
                return fail_too_many(c, "query-iothreads", n, GUEST_MAX_IOTHREADS);
        v = calloc(n ?: 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(iothreads, i);
                int64_t tid;
                const char *id;

                if (json_member_int64(e, "thread-id", &tid) == 0 && tid > 0 && tid <= INT32_MAX &&
                    json_member_string(e, "id", &id) == 0)
                        v[k++] = (struct iothread_tid){.tid = (pid_t)tid, .id = id};
        }
        qsort(v, k, sizeof(*v), cmp_iothread);
        *ret = v;
        *ret_n = k;
        return 0;
}

int guest_query_threads(struct query_ctx *c)
{
        _cleanup_json_ struct json_object *iothreads = NULL;
        _cleanup_free_ pid_t *tids = NULL, *vcpu_tids = NULL;
        _cleanup_free_ struct iothread_tid *io = NULL;
        size_t n_tids = 0, n_io = 0;
        int r;

        r = qmp_client_execute(c->qmp, "query-iothreads", NULL, &iothreads);
        if (r < 0)
                return qmp_fail(c, r);
        if (!json_object_is_type(iothreads, json_type_array))
                return fail(c, -EBADMSG, "query-iothreads: reply is not an array");
        r = iothread_index(c, iothreads, &io, &n_io);
        if (r < 0)
                return r;
        r = proc_task_list(c->procfs_root, c->m->pid, &tids, &n_tids);
        if (r < 0)
                return fail(c, r, "/proc/%d/task: %s", (int)c->m->pid, strerror(-r));
        /* Sorted copies, so matching vCPUs, iothreads and tasks is n log n, not n * m. */
        qsort(tids, n_tids, sizeof(*tids), cmp_pid);
        vcpu_tids = calloc(c->m->n_vcpus ?: 1, sizeof(*vcpu_tids));
        c->m->threads = calloc(n_tids ?: 1, sizeof(*c->m->threads));
        if (!vcpu_tids || !c->m->threads)
                return -ENOMEM;
        for (unsigned v = 0; v < c->m->n_vcpus; v++)
                vcpu_tids[v] = c->m->vcpus[v].tid;
        qsort(vcpu_tids, c->m->n_vcpus, sizeof(*vcpu_tids), cmp_pid);

        for (size_t i = 0; i < n_tids; i++) {
                struct guest_thread *t = &c->m->threads[c->m->n_threads];
                struct iothread_tid key = {.tid = tids[i]}, *found;
                struct task_placement tp;

                if (tid_in(vcpu_tids, c->m->n_vcpus, tids[i]))
                        continue;
                t->tid = tids[i];
                t->kind = GUEST_THREAD_EMULATOR;
                found = bsearch(&key, io, n_io, sizeof(*io), cmp_iothread);
                if (found) {
                        t->kind = GUEST_THREAD_IOTHREAD;
                        t->name = strdup(found->id);
                }
                if (!t->name && proc_task_placement_read(c->procfs_root, c->m->pid, tids[i], &tp) >= 0)
                        t->name = strdup(tp.comm);
                if (!t->name)
                        t->name = strdup("?"); /* the thread exited between listing and reading */
                if (!t->name)
                        return -ENOMEM;
                c->m->n_threads++;
        }
        for (unsigned v = 0; v < c->m->n_vcpus; v++)
                if (!tid_in(tids, n_tids, c->m->vcpus[v].tid))
                        return fail(c, -EBADMSG, "/proc/%d/task: vCPU %d thread %d is not a thread of QEMU",
                                    (int)c->m->pid, c->m->vcpus[v].index, (int)c->m->vcpus[v].tid);
        return 0;
}
