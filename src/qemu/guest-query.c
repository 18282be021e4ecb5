/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest model over QMP: runs the steps (guest-query-internal.h) in order; nothing partial is
 * returned. The VM's name and QEMU version are asked here. */
#include "vnuma/qemu/guest-query.h"

#include <stdlib.h>
#include <string.h>

#include "guest-query-internal.h"
#include "vnuma/basic/json-util.h"
#include "vnuma/host/proc-maps.h"
#include "vnuma/qemu/mtree.h"

static void ctx_done(struct query_ctx *c)
{
        for (size_t i = 0; i < c->n_backends; i++) {
                free(c->backends[i].id);
                free(c->backends[i].policy);
        }
        free(c->backends);
        for (size_t i = 0; i < c->n_devices; i++) {
                free(c->devices[i].id);
                free(c->devices[i].backend);
        }
        free(c->devices);
        mtree_free(c->mtree);
        proc_maps_free(c->smaps);
        guest_model_free(c->m);
}

static int query_name(struct query_ctx *c)
{
        _cleanup_json_ struct json_object *ret = NULL;
        const char *name;
        int r;

        r = qmp_client_execute(c->qmp, "query-name", NULL, &ret);
        if (r < 0)
                return qmp_fail(c, r);
        if (json_member_string(ret, "name", &name) < 0)
                return 0; /* QEMU without -name: the caller names the VM */
        c->m->name = strdup(name);
        return c->m->name ? 0 : -ENOMEM;
}

/* A transport without a greeting (QMP through libvirt) has no version yet: ask. Best effort. */
static void query_version(struct query_ctx *c)
{
        _cleanup_json_ struct json_object *ret = NULL;
        struct json_object *qemu = NULL;

        if (c->m->qemu_major || qmp_client_execute(c->qmp, "query-version", NULL, &ret) < 0)
                return;
        if (json_member_object(ret, "qemu", &qemu) < 0 || !qemu)
                return;
        c->m->qemu_major = (int)json_uint64_or(qemu, "major", 0);
        c->m->qemu_minor = (int)json_uint64_or(qemu, "minor", 0);
        c->m->qemu_micro = (int)json_uint64_or(qemu, "micro", 0);
}

int guest_model_query(struct qmp_client *qmp, const char *procfs_root, struct guest_model **ret,
                      char **ret_error)
{
        struct query_ctx c = {
                .qmp = qmp,
                .procfs_root = procfs_root ?: "/proc",
                .ret_error = ret_error,
        };
        bool own_budget = !qmp_client_has_budget(qmp);
        int r;

        if (ret_error)
                *ret_error = NULL;
        c.m = calloc(1, sizeof(*c.m));
        if (!c.m)
                return -ENOMEM;
        /* One budget for every round trip together: a QEMU that answers each just in time must
         * not hold the caller for a timeout per command (there is one gpa2hva per range). A
         * budget the caller set is kept: its own round trips before (the daemon's identity
         * check) are part of the same query. */
        if (own_budget)
                qmp_client_set_budget(qmp, qmp_client_get_timeout(qmp));
        qmp_client_version(qmp, &c.m->qemu_major, &c.m->qemu_minor, &c.m->qemu_micro);
        query_version(&c);

        r = query_name(&c);
        if (r >= 0)
                r = guest_query_vcpus(&c);
        if (r >= 0)
                r = guest_query_pid(&c);
        if (r >= 0)
                r = guest_query_backends(&c);
        if (r >= 0)
                r = guest_query_memory_devices(&c);
        if (r >= 0)
                r = guest_query_cells(&c);
        if (r >= 0)
                r = guest_query_threads(&c);
        if (r >= 0)
                *ret = TAKE_PTR(c.m);
        else if (r == -ENOMEM && ret_error && !*ret_error)
                fail(&c, r, "out of memory"); /* a step's own message says more */
        if (own_budget)
                qmp_client_set_budget(qmp, -1);
        ctx_done(&c);
        return r;
}
