/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Feeding each period's evidence into the decayed per-cell statistics. */
#include "vnuma/policies/policy-rules.h"

#include "policy-internal.h"

void vm_update_stats(const struct snapshot *s, const struct snap_vm *vm, struct vm_state *vs,
                     nodemask_t allowed)
{
        unsigned n = s->host.n_nodes;

        for (unsigned c = 0; c < vm->n_cells && c < vs->n_cells; c++) {
                const struct snap_cell *cell = &vm->cells[c];
                struct cell_state *cs = &vs->cells[c];
                uint64_t fresh[SNAP_NODES_MAX] = {0};
                uint64_t total = 0;

                for (unsigned h = 0; h < n; h++)
                        total += cell->access[h];
                /* Without access evidence (a residency-only sampler), residency in MiB stands in. */
                for (unsigned h = 0; h < n; h++)
                        fresh[h] = total > 0 ? cell->access[h] : cell->resident_bytes[h] >> 20;
                rule_decay(cs->mem, fresh, n);
                rule_decay(cs->cpu, cell->cpu_ns, n);
                cs->pref = rule_argmax(cs->mem, n, allowed);
        }
        vs->periods_seen++;
}
