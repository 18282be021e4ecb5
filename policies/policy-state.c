/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mutable memory of the policies, owned by the engine and handed to every plan call. */
#include "vnuma/policy-rules.h"
#include "vnuma/policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy-internal.h"

void policy_params_init(struct policy_params *p)
{
        *p = (struct policy_params){
                .imbalance_pct = 125,
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
                .emulator_node = -1,
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

int policy_state_sync(struct policy_state *st, const struct snapshot *s)
{
        _cleanup_free_ struct vm_state *fresh = NULL;
        _cleanup_free_ bool *taken = NULL, *created = NULL;
        int r;

        fresh = calloc(s->n_vms ? s->n_vms : 1, sizeof(*fresh));
        created = calloc(s->n_vms ? s->n_vms : 1, sizeof(*created));
        taken = calloc(st->n_vms ? st->n_vms : 1, sizeof(*taken));
        if (!fresh || !taken || !created)
                return -ENOMEM;

        for (unsigned i = 0; i < s->n_vms; i++) {
                const struct snap_vm *vm = &s->vms[i];
                size_t found = SIZE_MAX;

                /* Usually the order is unchanged, so try the same index first. */
                if (i < st->n_vms && st->vms[i].vm_id == vm->id)
                        found = i;
                for (size_t j = 0; found == SIZE_MAX && j < st->n_vms; j++)
                        if (!taken[j] && st->vms[j].vm_id == vm->id)
                                found = j;

                if (found != SIZE_MAX && !taken[found] && st->vms[found].n_cells == vm->n_cells) {
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

void policy_state_begin_period(struct policy_state *st, const struct snapshot *s)
{
        const struct snap_host *h = &s->host;
        struct policy_ledger *l = &st->ledger;

        memset(l, 0, sizeof(*l));
        for (unsigned i = 0; i < h->n_nodes; i++) {
                l->cpu_load[i] = h->node[i].cpu_load;
                l->mem_free[i] = (int64_t)h->node[i].mem_free_bytes;
                l->phys_free[i] = (int64_t)h->node[i].mem_free_bytes;
        }
        l->host_budget_left = rule_budget_for_period(st->params.host_migrate_rate, s->period_ns);

        for (unsigned i = 0; i < s->n_vms && i < st->n_vms; i++) {
                const struct snap_vm *vm = &s->vms[i];
                struct vm_state *vs = &st->vms[i];
                uint64_t rate = vm->policy.migrate_rate ?: st->params.vm_migrate_rate;

                vs->budget_left = rule_budget_for_period(rate, s->period_ns);
                /* Commitments: vCPUs and memory already promised to a home count there now, so two
                 * cells cannot both be promised the same free room. */
                for (unsigned c = 0; c < vm->n_cells && c < vs->n_cells; c++)
                        ledger_commit_cell(st, s, vm, vs, c, +1);
        }
}
