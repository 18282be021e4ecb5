/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Region policies for plain QEMU guests: the unit's AllowedCPUs=/AllowedMemoryNodes=, never a
 * cgroup of vnumad's own.
 *
 * QEMU applies a backend's mbind policy only when it creates the backend; a later qom-set of
 * "policy" or "host-nodes" succeeds and changes nothing (LAB-NOTES). What remains is the cpuset
 * of the cgroup the QEMU runs in, and vnumad does not take a QEMU out of the cgroup it was started
 * in (it would lose its unit's limits, and systemd would stop the emptied scope). So:
 *   - a QEMU alone in its own systemd unit (.scope or .service, from /proc/PID/cgroup): the unit
 *     gets AllowedMemoryNodes= = the union of its cells' nodes and AllowedCPUs= = their CPUs,
 *     through systemd's D-Bus API, at runtime; lifted again (empty) when the policy opens up;
 *   - anything else (no unit, a unit shared with other processes, no systemd on the bus): nothing
 *     is set; vCPU pins and page migration enforce the policy, said once per VM.
 * A cpuset is per thread, not per memory range, so the unit allows the union of the cells' node
 * sets; keeping each cell on its own nodes within that is the job of the vCPU pins (first touch)
 * and of migrations. libvirt domains never come here (daemon-libvirt.c: live numatune). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actuator-internal.h"
#include "actuator-units.h"
#include "vnuma/host/cgroup-unit.h"
#include "vnuma/model/snapshot.h"

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

/* The host CPUs of a set of kernel node ids, from the snapshot. */
static struct idset node_cpus(const struct snapshot *s, const struct idset *nodes)
{
        struct idset cpus = IDSET_EMPTY;

        for (unsigned pos = 0; pos < s->host.n_nodes; pos++)
                if (idset_test(nodes, s->host.node[pos].id))
                        idset_or(&cpus, &s->host.node[pos].cpus);
        return cpus;
}

int actuator_region_plan(struct actuator *a, const struct snapshot *s, const struct action *act,
                         const struct actuator_vm *vm, struct region_plan *ret, char *line, size_t size)
{
        const struct guest_model *m = vm->model;
        struct region_plan p = {.nodes = IDSET_EMPTY};
        char mems_text[128], cpus_text[128];
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
        union_nodes(p.st, p.cell, p.restricted, &p.nodes, &p.mems, &p.open);
        /* Some cell open: the VM as a whole may use every node, so the unit is not restricted. */
        if (p.open)
                p.mems = IDSET_EMPTY;
        p.cpus = node_cpus(s, &p.mems);
        if (idset_format(&p.mems, mems_text, sizeof(mems_text)) < 0)
                snprintf(mems_text, sizeof(mems_text), "(long list)");
        if (idset_format(&p.cpus, cpus_text, sizeof(cpus_text)) < 0)
                snprintf(cpus_text, sizeof(cpus_text), "(long list)");
        if (p.open)
                snprintf(line, size,
                         "%s: cell %d: some cell unrestricted, the VM's unit needs no restriction",
                         strna(region_policy_to_string(act->region_policy)), act->cell);
        else
                snprintf(line, size, "%s: AllowedMemoryNodes=%s AllowedCPUs=%s",
                         strna(region_policy_to_string(act->region_policy)), mems_text, cpus_text);
        *ret = p;
        return 0;
}

void actuator_region_remember(const struct region_plan *p)
{
        p->st->restricted[p->cell] = p->restricted;
        p->st->nodes[p->cell] = p->restricted ? p->nodes : IDSET_EMPTY;
}

/* Looks once per VM where its policy can be enforced. reason gets why not, for the notice. */
static int find_placement(struct actuator *a, struct actuator_vm_state *st, pid_t pid, char *reason,
                          size_t size)
{
        _cleanup_free_ char *unit = NULL, *unit_path = NULL;
        int r;

        if (st->placement != PLACEMENT_UNKNOWN && st->pid == pid)
                return 0;
        st->pid = pid;
        free(st->unit);
        st->unit = NULL;
        st->placement = PLACEMENT_NONE;
        r = cgroup_unit_of_pid(a->procfs_root, pid, &unit, &unit_path);
        if (r == -ESRCH)
                return r;
        if (r == -ENOENT) {
                snprintf(reason, size, "its cgroup belongs to no systemd unit");
                return 0;
        }
        if (r < 0) {
                snprintf(reason, size, "cannot read its cgroup: %s", strerror(-r));
                return 0;
        }
        r = cgroup_unit_sole_process(a->sysfs_root, unit_path, pid);
        if (r == 0) {
                snprintf(reason, size, "its unit %s holds other processes too", unit);
                return 0;
        }
        if (r < 0) {
                snprintf(reason, size, "cannot read the processes of its unit %s: %s", unit, strerror(-r));
                return 0;
        }
        st->placement = PLACEMENT_UNIT;
        st->unit = TAKE_PTR(unit);
        return 0;
}

static void say_migration_only(struct actuator *a, struct actuator_vm_state *st, struct actuator_result *res,
                               const char *reason)
{
        if (st->said)
                return;
        st->said = true;
        /* Cut, not refused, when the reason is long: "%.*s" keeps the compiler sure of the length. */
        snprintf(a->notice, sizeof(a->notice),
                 "region policy enforced by vCPU pins and page migration only (%.150s); vnumad creates no "
                 "cgroup and moves no process",
                 reason);
        res->notice = a->notice;
}

/* systemd is not there to ask (or does not know the unit): like a VM without a unit. */
static bool unit_unreachable(int r)
{
        return r == -ENOTCONN || r == -ENOENT;
}

static int apply_unit(struct actuator *a, struct region_plan *p, struct actuator_result *res, char *line,
                      size_t size)
{
        struct actuator_vm_state *st = p->st;
        _cleanup_free_ char *error = NULL;
        bool restrict_ = !idset_is_empty(&p->mems);
        int r;

        if (st->unit_set ? idset_equal(&st->set_cpus, &p->cpus) && idset_equal(&st->set_mems, &p->mems)
                         : !restrict_)
                return 0; /* already so */
        if (restrict_) {
                actuator_undo_cancel(a, st->unit);
                r = actuator_unit_record(a, st->unit, &p->cpus, &p->mems);
                if (r < 0) {
                        /* Without the record a restart could not lift it: do not set it. */
                        snprintf(line + strlen(line), size - strlen(line), ": cannot record it under %s",
                                 a->state_dir);
                        return r;
                }
        }
        r = actuator_unit_set(a, st->pid, st->unit, &p->cpus, &p->mems, &error);
        if (r < 0) {
                if (restrict_ && !st->unit_set)
                        actuator_unit_unrecord(a, st->unit);
                if (!restrict_ || st->unit_set) {
                        /* What was set stays until a retry lifts it. */
                        (void)actuator_undo_add(a, st->unit, &st->set_cpus, &st->set_mems, st->pid);
                        st->unit_set = false;
                }
                if (unit_unreachable(r) && !st->unit_set) {
                        char reason[256];

                        snprintf(reason, sizeof(reason), "unit %s: systemd cannot be asked: %s", st->unit,
                                 error ?: strerror(-r));
                        st->placement = PLACEMENT_NONE;
                        snprintf(line + strlen(line), size - strlen(line), ": %s", reason);
                        say_migration_only(a, st, res, reason);
                        return 0;
                }
                snprintf(line + strlen(line), size - strlen(line), ": unit %s: %s", st->unit,
                         error ?: strerror(-r));
                return r;
        }
        if (!restrict_)
                actuator_unit_unrecord(a, st->unit);
        st->unit_set = restrict_;
        st->set_cpus = p->cpus;
        st->set_mems = p->mems;
        snprintf(line + strlen(line), size - strlen(line), " on unit %s", st->unit);
        return 0;
}

int actuator_region_policy(struct actuator *a, const struct snapshot *s, const struct action *act,
                           const struct actuator_vm *vm, struct actuator_result *res, char *line,
                           size_t size)
{
        struct region_plan p = {};
        char reason[256] = "";
        int r;

        r = actuator_region_plan(a, s, act, vm, &p, line, size);
        if (r < 0)
                return r;
        r = find_placement(a, p.st, vm->model->pid, reason, sizeof(reason));
        if (r < 0)
                return r;
        if (p.st->placement == PLACEMENT_UNIT) {
                r = apply_unit(a, &p, res, line, size);
                if (r < 0)
                        return r;
        } else if (p.restricted) {
                snprintf(line + strlen(line), size - strlen(line), ": migration only: %s",
                         reason[0] ? reason : "as said before");
                say_migration_only(a, p.st, res, reason[0] ? reason : "no systemd unit of its own");
        }
        actuator_region_remember(&p);
        return 0;
}
