/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Region policies for plain QEMU guests, enforced with a cpuset cgroup vnumad owns.
 *
 * QEMU applies a backend's mbind policy only when it creates the backend; a later qom-set of
 * "policy" or "host-nodes" succeeds and changes nothing (LAB-NOTES). What remains is the cpuset:
 * its mems bound every new allocation of the threads in it. A cpuset is per thread, not per
 * memory range, so the VM's cgroup allows the union of its cells' node sets; keeping each cell
 * on its own nodes within that is the job of the vCPU pins (first touch) and of migrations. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actuator-internal.h"
#include "vnuma/host/cgroup-cpuset.h"
#include "vnuma/host/proc-task.h"
#include "vnuma/model/snapshot.h"

/* The cgroup leaf for a VM: its name (the socket's or the domain's, never QEMU's own -name) with
 * anything a cgroup path should not hold replaced, and its QEMU pid, which no other live VM has. */
static int vm_cgroup_path(const struct actuator *a, const struct actuator_vm *vm, char **ret)
{
        char leaf[96];
        size_t n = 0;

        for (const char *p = vm->name; p && *p && n < 64; p++) {
                bool keep =
                        strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@-", *p) ||
                        (*p == '.' && n > 0); /* no leading dot: "." and ".." are not names */

                leaf[n++] = keep ? *p : '_';
        }
        snprintf(leaf + n, sizeof(leaf) - n, "%s%d", n ? "-" : "vm-", (int)vm->model->pid);
        if (asprintf(ret, "%s/%s", a->cgroup_parent, leaf) < 0)
                return -ENOMEM;
        return 0;
}

/* Union of the restricted cells' nodes; *ret_open when some cell is not restricted. */
static void union_nodes(const struct actuator_vm_state *st, unsigned cell, bool restricted,
                        const struct idset *nodes, struct idset *ret, bool *ret_open)
{
        *ret = IDSET_EMPTY;
        *ret_open = false;
        for (unsigned i = 0; i < st->n_cells; i++) {
                bool r = i == cell ? restricted : st->restricted[i];

                if (!r)
                        *ret_open = true;
                else
                        idset_or(ret, i == cell ? nodes : &st->nodes[i]);
        }
}

static int enforce(struct actuator *a, pid_t pid, const char *path, const struct idset *mems,
                   struct actuator_result *res)
{
        _cleanup_free_ pid_t *tids = NULL;
        struct idset old_mems = IDSET_EMPTY;
        bool created = false, had_old;
        size_t n = 0;
        unsigned moved = 0;
        int r;

        /* An existing cgroup: remember its mems, to put them back if the threads cannot move. */
        had_old = cpuset_cgroup_get_mems(path, &old_mems) >= 0 && !idset_is_empty(&old_mems);
        r = cpuset_cgroup_set_mems(path, mems, &created);
        if (r < 0)
                return r;
        r = proc_task_list(a->procfs_root, pid, &tids, &n);
        if (r == -ENOENT)
                r = -ESRCH;
        if (r >= 0)
                r = n > 0 ? cpuset_cgroup_enter(a->procfs_root, path, pid, tids, n, &moved) : -ESRCH;
        if (r < 0) {
                if (created)
                        (void)cpuset_cgroup_remove(path);
                else if (had_old)
                        (void)cpuset_cgroup_set_mems(path, &old_mems, NULL);
                return r;
        }
        res->threads_moved = moved;
        return 0;
}

int actuator_region_plan(struct actuator *a, const struct snapshot *s, const struct action *act,
                         const struct actuator_vm *vm, struct region_plan *ret, char *line, size_t size)
{
        const struct guest_model *m = vm->model;
        _cleanup_free_ char *cgroup = NULL;
        struct region_plan p = {.nodes = IDSET_EMPTY};
        char mems_text[128];
        int ci, r;

        snprintf(line, size, "%s over node mask 0x%" PRIx32,
                 strna(region_policy_to_string(act->region_policy)), act->node_mask);
        ci = guest_model_cell_index(m, act->cell);
        if (ci < 0)
                return -ENOENT;
        if (!s || act->region_policy < 0 || act->region_policy >= _REGION_POLICY_MAX)
                return -EINVAL;
        p.cell = (unsigned)ci;
        p.restricted =
                act->region_policy == REGION_POLICY_BIND || act->region_policy == REGION_POLICY_INTERLEAVE;
        for (unsigned pos = 0; pos < s->host.n_nodes; pos++)
                if (NODEMASK_TEST(act->node_mask, pos))
                        idset_add(&p.nodes, s->host.node[pos].id);
        if (p.restricted && idset_is_empty(&p.nodes))
                return -EINVAL;
        r = actuator_vm_state_get(a, vm->id, m, &p.st);
        if (r < 0)
                return r;
        r = vm_cgroup_path(a, vm, &cgroup);
        if (r < 0)
                return r;
        union_nodes(p.st, p.cell, p.restricted, &p.nodes, &p.mems, &p.open);
        /* Nothing restricted and never moved: no cgroup at all. */
        p.needs_cgroup = !p.open || p.st->cgroup;
        if (idset_format(&p.mems, mems_text, sizeof(mems_text)) < 0)
                snprintf(mems_text, sizeof(mems_text), "(long list)");

        if (!p.needs_cgroup)
                snprintf(line, size, "%s: cell %d unrestricted, VM needs no cpuset",
                         strna(region_policy_to_string(act->region_policy)), act->cell);
        else
                snprintf(line, size, "cgroup %s cpuset.mems=%s", cgroup,
                         p.open ? "(the parent's)" : mems_text);
        p.cgroup = TAKE_PTR(cgroup);
        *ret = p;
        return 0;
}

void actuator_region_plan_done(struct region_plan *p)
{
        free(p->cgroup);
        p->cgroup = NULL;
}

void actuator_region_remember(const struct region_plan *p)
{
        p->st->restricted[p->cell] = p->restricted;
        p->st->nodes[p->cell] = p->restricted ? p->nodes : IDSET_EMPTY;
}

/* The VM's cgroup gets the plan's nodes (the parent's, when open) and all its threads. */
static int apply_plan(struct actuator *a, pid_t pid, struct region_plan *p, struct actuator_result *res)
{
        struct idset mems = p->mems;
        int r;

        if (p->open) {
                r = cpuset_cgroup_get_effective(a->cgroup_parent, NULL, &mems);
                if (r == -ENOENT) /* vnumad.slice gone: the hierarchy root's */
                        r = cpuset_cgroup_get_effective("", NULL, &mems);
                if (r < 0)
                        return r;
        }
        r = enforce(a, pid, p->cgroup, &mems, res);
        if (r < 0)
                return r;
        if (!p->st->cgroup)
                p->st->cgroup = TAKE_PTR(p->cgroup);
        return 0;
}

int actuator_region_policy(struct actuator *a, const struct snapshot *s, const struct action *act,
                           const struct actuator_vm *vm, struct actuator_result *res, char *line,
                           size_t size)
{
        _cleanup_(actuator_region_plan_done) struct region_plan p = {};
        int r;

        r = actuator_region_plan(a, s, act, vm, &p, line, size);
        if (r < 0)
                return r;
        if (p.needs_cgroup) {
                r = apply_plan(a, vm->model->pid, &p, res);
                if (r < 0)
                        return r;
        }
        actuator_region_remember(&p);
        return 0;
}
