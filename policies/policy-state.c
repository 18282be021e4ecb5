/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mutable memory of the policies, owned by the engine and handed to every plan call. */
#include "vnuma/policies/policy-advise.h"
#include "vnuma/policies/policy-rules.h"
#include "vnuma/policies/policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"

void policy_params_init(struct policy_params *p)
{
        *p = (struct policy_params){
                .imbalance_pct = 100,
                .mem_reserve_bytes = UINT64_C(256) << 20,
                .vm_migrate_rate = UINT64_C(256) << 20,
                .host_migrate_rate = UINT64_C(2) << 30,
                .hysteresis_periods = 3,
                .hysteresis_pct = 125,
                .scan_period_min = 1,
                .scan_period_max = 8,
                .local_threshold_pct = 70,
                .swap_retry_periods = 2,
                .consolidate_vm = true,
                .settle_periods = 10,
        };
}

static void cell_state_init(struct cell_state *cs, const struct policy_params *p)
{
        *cs = (struct cell_state){
                .pref = -1,
                .candidate = -1,
                .scan_period = p->scan_period_min ? p->scan_period_min : 1,
        };
}

static void vm_state_done(struct vm_state *vs)
{
        if (!vs)
                return;
        for (unsigned c = 0; c < vs->n_cells; c++)
                free(vs->cells[c].seen_misplaced);
        free(vs->cells);
        vs->cells = NULL;
        vs->n_cells = 0;
}

static int vm_state_init(struct vm_state *vs, const struct policy_params *p, uint64_t vm_id,
                         unsigned n_cells)
{
        struct cell_state *cells = calloc(n_cells ? n_cells : 1, sizeof(*cells));
        if (!cells)
                return -ENOMEM;
        for (unsigned c = 0; c < n_cells; c++)
                cell_state_init(&cells[c], p);
        *vs = (struct vm_state){
                .vm_id = vm_id,
                .n_cells = n_cells,
                .cells = cells,
                .group_home = -1,
                .group_candidate = -1,
                .emulator_mask = 0,
        };
        return 0;
}

int policy_state_new(const struct policy_params *params, struct policy_state **ret)
{
        struct policy_state *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        if (params)
                s->params = *params;
        else
                policy_params_init(&s->params);
        *ret = s;
        return 0;
}

struct policy_state *policy_state_free(struct policy_state *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_vms; i++)
                vm_state_done(&s->vms[i]);
        free(s->vms);
        free(s->scratch);
        policy_work_free(s->work);
        free(s);
        return NULL;
}

struct vm_state *policy_state_find(struct policy_state *st, uint64_t vm_id)
{
        for (size_t i = 0; i < st->n_vms; i++)
                if (st->vms[i].vm_id == vm_id)
                        return &st->vms[i];
        return NULL;
}

struct id_index {
        uint64_t id;
        size_t index;
};

static int id_index_cmp(const void *a, const void *b)
{
        const struct id_index *x = a, *y = b;
        if (x->id != y->id)
                return x->id < y->id ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* The old state of a VM id that is not taken yet, or SIZE_MAX: binary search in the sorted ids. */
static size_t find_old(const struct id_index *ids, size_t n, const bool *taken, uint64_t id)
{
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (ids[mid].id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (; lo < n && ids[lo].id == id; lo++)
                if (!taken[ids[lo].index])
                        return ids[lo].index;
        return SIZE_MAX;
}

int policy_state_sync(struct policy_state *st, const struct snapshot *s)
{
        _cleanup_free_ struct vm_state *fresh = NULL;
        _cleanup_free_ bool *taken = NULL, *created = NULL;
        _cleanup_free_ struct id_index *ids = NULL;
        bool sorted = false;
        int r;

        fresh = calloc(s->n_vms ? s->n_vms : 1, sizeof(*fresh));
        created = calloc(s->n_vms ? s->n_vms : 1, sizeof(*created));
        taken = calloc(st->n_vms ? st->n_vms : 1, sizeof(*taken));
        ids = calloc(st->n_vms ? st->n_vms : 1, sizeof(*ids));
        if (!fresh || !taken || !created || !ids)
                return -ENOMEM;

        for (unsigned i = 0; i < s->n_vms; i++) {
                const struct snap_vm *vm = &s->vms[i];
                size_t found = SIZE_MAX;

                /* Usually the order is unchanged, so try the same index first; else look the id up
                 * (sorted once, on the first miss): O(n log n) at worst, never O(n^2). */
                if (i < st->n_vms && st->vms[i].vm_id == vm->id && !taken[i])
                        found = i;
                if (found == SIZE_MAX && st->n_vms > 0) {
                        if (!sorted) {
                                for (size_t j = 0; j < st->n_vms; j++)
                                        ids[j] = (struct id_index){.id = st->vms[j].vm_id, .index = j};
                                qsort(ids, st->n_vms, sizeof(*ids), id_index_cmp);
                                sorted = true;
                        }
                        found = find_old(ids, st->n_vms, taken, vm->id);
                }

                if (found != SIZE_MAX && st->vms[found].n_cells == vm->n_cells) {
                        fresh[i] = st->vms[found];
                        taken[found] = true;
                        continue;
                }
                /* New VM, or its layout changed (a restart): start over. */
                r = vm_state_init(&fresh[i], &st->params, vm->id, vm->n_cells);
                if (r < 0) {
                        for (unsigned k = 0; k < i; k++)
                                if (created[k])
                                        vm_state_done(&fresh[k]);
                        return r;
                }
                created[i] = true;
                policy_seed_home(&s->host, vm, &fresh[i]);
        }

        for (size_t j = 0; j < st->n_vms; j++)
                if (!taken[j])
                        vm_state_done(&st->vms[j]);
        free(st->vms);
        st->vms = TAKE_PTR(fresh);
        st->n_vms = s->n_vms;
        st->allocated = s->n_vms;
        return 0;
}

/* The period's per-cell view: resident bytes and vCPU demand by node, in one pass over the vCPUs. */
static void vm_cache_period(const struct snapshot *s, const struct snap_vm *vm, struct vm_state *vs)
{
        vs->demand = 0;
        for (unsigned c = 0; c < vm->n_cells && c < vs->n_cells; c++) {
                struct cell_state *cs = &vs->cells[c];
                cs->present = snap_cell_present_bytes(&vm->cells[c]);
                cs->demand = 0;
                cs->demand_unknown = 0;
                cs->n_vcpus = 0;
                cs->vcpu_nodes = 0;
                for (unsigned h = 0; h < s->host.n_nodes; h++)
                        cs->demand_on[h] = 0;
        }
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                const struct snap_vcpu *v = &vm->vcpus[i];
                struct cell_state *cs;
                double d;

                if (v->cell >= vm->n_cells || v->cell >= vs->n_cells)
                        continue;
                cs = &vs->cells[v->cell];
                d = snap_vcpu_demand(s, v);
                cs->demand += d;
                vs->demand += d;
                cs->n_vcpus++;
                if (v->node >= 0 && (unsigned)v->node < s->host.n_nodes) {
                        cs->demand_on[v->node] += d;
                        cs->vcpu_nodes |= NODEMASK_BIT(v->node);
                } else
                        cs->demand_unknown += d;
        }
}

/* CPU demand per node: the busy time the host saw that is not a managed vCPU's (other VMs'
 * emulator threads, host work), plus every managed vCPU's demand where it ran. Busy time is
 * capped by the node's CPUs; the vCPUs' wait shows what did not fit.
 *
 * A vCPU's run time counts on the node it was last seen on, so an unpinned vCPU that crossed
 * nodes leaves its run time's other part looking like other work on the node it left (the lab
 * saw a lone busy vCPU make its own memory's node look full). The other work per node is
 * therefore scaled down to what the whole host measured: that sum is exact. */
static void node_cpu_demand(const struct snapshot *s, double *ret, double *ret_other)
{
        double vcpu_run[SNAP_NODES_MAX] = {0}, vcpu_demand_on[SNAP_NODES_MAX] = {0};
        double other[SNAP_NODES_MAX] = {0}, other_sum = 0, busy = 0, run = 0, scale = 1;

        for (unsigned i = 0; i < s->n_vms; i++)
                for (unsigned v = 0; v < s->vms[i].n_vcpus; v++) {
                        const struct snap_vcpu *vc = &s->vms[i].vcpus[v];

                        if (vc->node < 0 || (unsigned)vc->node >= s->host.n_nodes || s->period_ns == 0)
                                continue;
                        vcpu_run[vc->node] += (double)vc->runtime_ns / (double)s->period_ns;
                        vcpu_demand_on[vc->node] += snap_vcpu_demand(s, vc);
                }
        for (unsigned n = 0; n < s->host.n_nodes; n++) {
                other[n] = MAX(s->host.node[n].cpu_load - vcpu_run[n], 0.0);
                other_sum += other[n];
                busy += s->host.node[n].cpu_load;
                run += vcpu_run[n];
        }
        if (other_sum > MAX(busy - run, 0.0) + 1e-9)
                scale = MAX(busy - run, 0.0) / other_sum;
        for (unsigned n = 0; n < s->host.n_nodes; n++) {
                ret_other[n] = other[n] * scale;
                ret[n] = ret_other[n] + vcpu_demand_on[n];
        }
}

void policy_state_begin_period(struct policy_state *st, const struct snapshot *s)
{
        const struct snap_host *h = &s->host;
        struct policy_ledger *l = &st->ledger;

        memset(l, 0, sizeof(*l));
        node_cpu_demand(s, l->cpu_load, l->other_load);
        for (unsigned i = 0; i < h->n_nodes; i++) {
                l->mem_free[i] = (int64_t)h->node[i].mem_free_bytes;
                l->phys_free[i] = (int64_t)h->node[i].mem_free_bytes;
        }
        l->host_budget_full =
                rule_budget_for_period(&st->params, st->params.host_migrate_rate, s->period_ns);
        l->host_budget_left = rule_budget_after_debt(l->host_budget_full, &st->host_budget_debt);

        for (unsigned i = 0; i < s->n_vms && i < st->n_vms; i++) {
                const struct snap_vm *vm = &s->vms[i];
                struct vm_state *vs = &st->vms[i];

                vm_cache_period(s, vm, vs);
                vs->budget_full = rule_budget_for_period(&st->params, rule_vm_migrate_rate(&st->params, vm),
                                                         s->period_ns);
                vs->budget_left = rule_budget_after_debt(vs->budget_full, &vs->budget_debt);
                /* Commitments: vCPUs and memory already promised to a home count there now, so two
                 * cells cannot both be promised the same free room. */
                for (unsigned c = 0; c < vm->n_cells && c < vs->n_cells; c++)
                        ledger_commit_cell(st, s, vm, vs, c, +1);
        }
}

#define MOVED_AGAIN_WINDOW 16 /* periods: a move this soon after the last one is a strike */

static struct moved_chunk *moved_slot(struct cell_state *cs, uint64_t offset)
{
        struct moved_chunk *oldest = &cs->moved[0];

        for (unsigned i = 0; i < CELL_MOVED_MAX; i++) {
                if (cs->moved[i].moved_at && cs->moved[i].offset == offset)
                        return &cs->moved[i];
                if (cs->moved[i].moved_at < oldest->moved_at)
                        oldest = &cs->moved[i];
        }
        *oldest = (struct moved_chunk){.offset = offset};
        return oldest;
}

/* A move (or a failed one) of the chunk at offset, in period. */
static void note_chunk_move(struct cell_state *cs, uint64_t offset, uint64_t period, bool failed)
{
        struct moved_chunk *m = moved_slot(cs, offset);
        /* Soon after the last move (counting the pause it was given) the move did not hold. */
        bool again =
                m->moved_at && period + 1 - m->moved_at <= MOVED_AGAIN_WINDOW + (UINT64_C(2) << m->strikes);

        if (failed || again) {
                m->strikes = MIN(m->strikes + 1, 5u);
                m->retry_at = period + 1 + (UINT64_C(2) << m->strikes); /* 4, 8, ... 64 periods */
        } else {
                m->strikes = 0;
                m->retry_at = 0;
        }
        m->moved_at = period + 1; /* 0 means a free slot */
}

bool cell_chunk_backing_off(const struct cell_state *cs, uint64_t offset, uint64_t period)
{
        for (unsigned i = 0; i < CELL_MOVED_MAX; i++)
                if (cs->moved[i].moved_at && cs->moved[i].offset == offset)
                        return cs->moved[i].retry_at > period;
        return false;
}

void policy_state_note_applied(struct policy_state *st, const struct snapshot *s, const struct action *a)
{
        const struct snap_vm *vm;
        struct cell_state *cs;

        if (a->vm_index >= s->n_vms || a->vm_index >= st->n_vms || st->vms[a->vm_index].vm_id != a->vm_id)
                return;
        vm = &s->vms[a->vm_index];
        if (a->cell < 0 || (unsigned)a->cell >= st->vms[a->vm_index].n_cells)
                return;
        cs = &st->vms[a->vm_index].cells[a->cell];

        switch (a->type) {
        case ACTION_MIGRATE:
                if (a->from_node >= 0 && a->from_node < SNAP_NODES_MAX && a->from_node != a->node)
                        cs->left_at[a->from_node] = s->period + 1;
                note_chunk_move(cs, a->offset, s->period, false);
                break;

        case ACTION_PIN_VCPUS:
                /* Only vCPUs outside the new mask actually move. */
                for (unsigned i = 0; i < vm->n_vcpus; i++) {
                        const struct snap_vcpu *v = &vm->vcpus[i];
                        if (v->node >= 0 && v->node < SNAP_NODES_MAX &&
                            idset_test(&a->vcpus, (int)v->index) && !NODEMASK_TEST(a->node_mask, v->node))
                                cs->left_at[v->node] = s->period + 1;
                }
                break;
        default:
                break;
        }
}

void policy_state_note_failed(struct policy_state *st, const struct snapshot *s, const struct action *a)
{
        struct vm_state *vs;

        if (a->vm_index >= s->n_vms || a->vm_index >= st->n_vms || st->vms[a->vm_index].vm_id != a->vm_id)
                return;
        vs = &st->vms[a->vm_index];
        /* The planner marks a pin done when it plans it; a pin that did not happen is due again
         * next period (libvirtd restarting, a thread that came and went). */
        switch (a->type) {
        case ACTION_PIN_VCPUS:
                if (a->cell >= 0 && (unsigned)a->cell < vs->n_cells)
                        vs->cells[a->cell].pinned = 0;
                break;
        case ACTION_PIN_EMULATOR:
                vs->emulator_mask = 0;
                break;
        case ACTION_MIGRATE:
                if (a->cell >= 0 && (unsigned)a->cell < vs->n_cells)
                        note_chunk_move(&vs->cells[a->cell], a->offset, s->period, true);
                break;
        default:
                break;
        }
}
