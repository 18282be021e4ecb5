/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sampler-settled.h"

#include "vnuma/basic/macro.h"

void vm_memory_locality(const struct snap_vm *sv, double *ret_local, double *ret_total)
{
        double run_local = 0, run_total = 0, idle_local = 0, idle_total = 0;

        for (unsigned c = 0; c < sv->n_cells; c++) {
                const struct snap_cell *sc = &sv->cells[c];
                double cpu = 0, cell_bytes = 0, on_vcpu_nodes = 0, here = 0;
                unsigned known = 0;

                for (unsigned n = 0; n < SNAP_NODES_MAX; n++) {
                        cpu += (double)sc->cpu_ns[n];
                        cell_bytes += (double)sc->resident_bytes[n];
                }
                if (cpu > 0) {
                        if (cell_bytes <= 0)
                                continue;
                        for (unsigned n = 0; n < SNAP_NODES_MAX; n++)
                                here += (double)sc->resident_bytes[n] * (double)sc->cpu_ns[n] / cpu;
                        run_local += cpu * here / cell_bytes;
                        run_total += cpu;
                        continue;
                }
                for (unsigned v = 0; v < sv->n_vcpus; v++) {
                        const struct snap_vcpu *vc = &sv->vcpus[v];

                        if (vc->cell != c || vc->node < 0 || vc->node >= SNAP_NODES_MAX)
                                continue;
                        on_vcpu_nodes += (double)sc->resident_bytes[vc->node];
                        known++;
                }
                if (known == 0)
                        continue;
                idle_local += on_vcpu_nodes / known;
                idle_total += cell_bytes;
        }
        if (run_total > 0) {
                *ret_local = run_local;
                *ret_total = run_total;
        } else {
                *ret_local = idle_local;
                *ret_total = idle_total;
        }
}

bool vm_memory_settled(double local, double total)
{
        return total > 0 && local >= 0.9 * total;
}

unsigned scan_next_interval(unsigned current, bool settled)
{
        return settled ? MIN(MAX(current, 1u) * 2, SCAN_INTERVAL_MAX) : 1;
}
