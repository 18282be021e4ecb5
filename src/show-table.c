/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Human tables, laid out like numastat (MiB per node) and virsh vcpuinfo. */
#include <stdio.h>
#include <string.h>

#include "vnuma/show.h"

#define MIB(x) ((double)(x) / (1024.0 * 1024.0))

static const char *idset_str(const struct idset *s, char *buf, size_t size)
{
        if (idset_format(s, buf, size) < 0)
                return "?";
        return buf[0] ? buf : "-";
}

static void ratio_str(const struct locality *l, char *buf, size_t size)
{
        double v;

        if (locality_ratio(l, &v) < 0)
                snprintf(buf, size, "-");
        else
                snprintf(buf, size, "%.1f", v * 100.0);
}

/* CPU, node and affinity columns; the affinity is padded only when more columns follow. */
static void thread_cols(FILE *f, const struct thread_observation *t, bool last)
{
        char aff[256];

        if (t->gone) {
                fprintf(f, "  %4s  %4s  %s", "-", "-", "(exited)");
                return;
        }
        fprintf(f, "  %4d  ", t->placement.last_cpu);
        if (t->host_node >= 0)
                fprintf(f, "%4d", t->host_node);
        else
                fprintf(f, "%4s", "?");
        fprintf(f, last ? "  %s" : "  %-9s", idset_str(&t->placement.affinity, aff, sizeof(aff)));
}

void show_table_domain(FILE *f, const struct vm_observation *o, const struct host_topology *topo,
                       const char *source)
{
        const struct guest_model *m = o->model;
        char buf[256], pct[16];

        ratio_str(&o->total, pct, sizeof(pct));
        fprintf(f, "Domain %s  (pid %d, QEMU %d.%d.%d%s%s)\n", m->name ?: "?", (int)m->pid, m->qemu_major,
                m->qemu_minor, m->qemu_micro, source ? ", " : "", source ?: "");
        fprintf(f, "Locality %s %%  (%.1f of %.1f MiB present are on their cell's home node)\n\n", pct,
                MIB(o->total.local_bytes), MIB(o->total.present_bytes));

        fprintf(f, "%4s  %-7s  %-12s  %-5s  %4s  %9s", "Cell", "vCPUs", "Backend", "Kind", "Home",
                "Size MiB");
        for (unsigned i = 0; i < topo->n_nodes; i++) {
                snprintf(buf, sizeof(buf), "Node %d", topo->nodes[i].id);
                fprintf(f, "  %9s", buf);
        }
        fprintf(f, "  %9s  %11s  %7s\n", "Total", "Not present", "Local %");

        for (unsigned c = 0; c < m->n_cells; c++) {
                const struct guest_cell *cell = &m->cells[c];
                const struct cell_observation *co = &o->cells[c];
                char home[16];

                if (co->locality.home_node >= 0)
                        snprintf(home, sizeof(home), "%d", co->locality.home_node);
                else
                        snprintf(home, sizeof(home), "-");
                snprintf(buf, sizeof(buf), "%s%s", cell->regions[0].backend_id,
                         cell->n_regions > 1 ? "+" : "");
                fprintf(f, "%4d  %-7s  %-12s  %-5s  %4s  %9.1f", cell->id,
                        idset_str(&cell->vcpus, (char[64]){}, 64), buf,
                        backend_kind_to_string(cell->regions[0].kind), home, MIB(cell->size_bytes));
                for (unsigned i = 0; i < topo->n_nodes; i++) {
                        int id = topo->nodes[i].id;
                        fprintf(f, "  %9.1f",
                                MIB(id < RESIDENCY_MAX_NODES ? co->residency.node_bytes[id] : 0));
                }
                ratio_str(&co->locality, pct, sizeof(pct));
                fprintf(f, "  %9.1f  %11.1f  %7s\n", MIB(co->locality.present_bytes),
                        MIB(co->residency.not_present_bytes), pct);
                for (unsigned r = 1; r < cell->n_regions; r++)
                        fprintf(f, "%4s  %-7s  + %-10s  %-5s  %4s  %9.1f  (%s)\n", "", "",
                                cell->regions[r].backend_id, backend_kind_to_string(cell->regions[r].kind),
                                "", MIB(cell->regions[r].size_bytes), cell->regions[r].device_id ?: "");
        }

        fprintf(f, "\n%5s  %8s  %4s  %4s  %4s  %s\n", "vCPU", "TID", "Cell", "CPU", "Node", "Affinity");
        for (unsigned i = 0; i < m->n_vcpus; i++) {
                fprintf(f, "%5d  %8d  %4d", m->vcpus[i].index, (int)m->vcpus[i].tid, m->vcpus[i].cell);
                thread_cols(f, &o->vcpus[i], true);
                fputc('\n', f);
        }

        fprintf(f, "\n%-8s  %8s  %4s  %4s  %-9s  %s\n", "Thread", "TID", "CPU", "Node", "Affinity", "Name");
        for (unsigned i = 0; i < m->n_threads; i++) {
                fprintf(f, "%-8s  %8d", guest_thread_kind_to_string(m->threads[i].kind),
                        (int)m->threads[i].tid);
                thread_cols(f, &o->threads[i], false);
                fprintf(f, "  %s\n", m->threads[i].name);
        }
}
