/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The simulated sampler, actuator and clock handed to the engine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sim-internal.h"

int sim_sense(void *userdata, uint64_t period, struct snapshot **ret)
{
        struct sim_world *w = userdata;
        _cleanup_(snapshot_freep) struct snapshot *s = NULL;
        unsigned n_active = 0, k = 0;
        double share[SNAP_NODES_MAX];
        unsigned *map;
        int r;

        for (unsigned i = 0; i < w->n_vms; i++)
                n_active += w->vms[i].active;
        map = realloc(w->active_map, (n_active ? n_active : 1) * sizeof(*map));
        if (!map)
                return -ENOMEM;
        w->active_map = map;
        w->n_active_map = n_active;

        r = snapshot_new(n_active, &s);
        if (r < 0)
                return r;
        s->period = w->period;
        s->period_ns = UINT64_C(1000000000);
        s->host = w->host;
        /* What the kernel shows under contention: a node's CPUs are busy up to their number
         * (/proc/stat), and every runnable thread there runs its share of what it wants and waits
         * for the rest (schedstat's run time and run_delay). */
        for (unsigned h = 0; h < w->host.n_nodes; h++) {
                s->host.node[h].mem_free_bytes = sim_node_free(w, (int)h);
                s->host.node[h].cpu_load = MIN((double)w->host.node[h].n_cpus, sim_node_load(w, (int)h));
                share[h] = sim_node_share(w, (int)h);
        }

        for (unsigned i = 0; i < w->n_vms; i++) {
                struct sim_vm *vm = &w->vms[i];
                struct snap_vm *sv;
                double frac[4][SNAP_NODES_MAX];

                if (!vm->active)
                        continue;
                map[k] = i;
                sv = &s->vms[k++];
                sv->id = vm->id;
                (void)snprintf(sv->name, sizeof(sv->name), "vm%llu", (unsigned long long)vm->id);
                sv->policy = vm->policy;
                sv->emulator_node = vm->emulator_node;
                r = snapshot_vm_alloc(sv, vm->n_cells, vm->n_vcpus);
                if (r < 0)
                        return r;
                sim_vm_hot_fractions(w, vm, frac, true);
                for (unsigned v = 0; v < vm->n_vcpus; v++) {
                        const struct sim_vcpu *vc = &vm->vcpus[v];
                        double run = vc->node >= 0 ? vc->busy * share[vc->node] : vc->busy;
                        uint64_t ns = (uint64_t)(run * (double)s->period_ns);
                        uint64_t want = (uint64_t)(vc->busy * (double)s->period_ns);

                        sv->vcpus[v] = (struct snap_vcpu){.index = v,
                                                          .cell = vc->cell,
                                                          .node = vc->node,
                                                          .runtime_ns = ns,
                                                          .wait_ns = want - MIN(want, ns)};
                        if (vc->node >= 0) {
                                sv->cells[vc->cell].cpu_ns[vc->node] += ns;
                                /* Hinting faults: this vCPU's accesses while it ran, split by where
                                 * the memory is. */
                                for (unsigned h = 0; h < w->host.n_nodes; h++)
                                        sv->cells[vc->cell].access[h] +=
                                                (uint64_t)(1000.0 * run *
                                                           sim_cell_access_share(vm, frac, vc->cell,
                                                                                 (int)h));
                        }
                }
                for (unsigned c = 0; c < vm->n_cells; c++) {
                        struct sim_cell *cell = &vm->cells[c];
                        struct snap_cell *sc = &sv->cells[c];
                        struct snap_chunk *win;

                        sc->size_bytes = cell->size_bytes;
                        sc->chunk_bytes = SIM_CHUNK_BYTES;
                        unsigned n_win = MIN(cell->n_chunks, (unsigned)SIM_SCAN_WINDOW_CHUNKS);

                        r = snapshot_cell_alloc_chunks(sc, n_win, &win);
                        if (r < 0)
                                return r;
                        for (unsigned j = 0; j < n_win; j++) {
                                unsigned q = (cell->scan_next + j) % cell->n_chunks;
                                const struct sim_chunk *ch = &cell->chunks[q];
                                win[j] = (struct snap_chunk){.offset = (uint64_t)q * SIM_CHUNK_BYTES,
                                                             .bytes = SIM_CHUNK_BYTES,
                                                             .node = ch->node,
                                                             .hotness = ch->hot};
                        }
                        if (cell->n_chunks > 0)
                                cell->scan_next = (cell->scan_next + n_win) % cell->n_chunks;
                        for (unsigned q = 0; q < cell->n_chunks; q++) {
                                const struct sim_chunk *ch = &cell->chunks[q];
                                if (ch->node >= 0)
                                        sc->resident_bytes[ch->node] += SIM_CHUNK_BYTES;
                                else
                                        sc->not_present_bytes += SIM_CHUNK_BYTES;
                        }
                }
        }
        (void)period;
        *ret = TAKE_PTR(s);
        return 0;
}

static void note_move(struct sim_world *w, int8_t *left_node, uint32_t *left_period, int from, int to)
{
        if (*left_node == to && w->period - *left_period <= SIM_PINGPONG_WINDOW)
                w->pingpong_moves++;
        *left_node = (int8_t)from;
        *left_period = (uint32_t)w->period;
}

static int apply_pin(struct sim_world *w, struct sim_vm *vm, const struct action *a)
{
        double load[SNAP_NODES_MAX];

        for (unsigned h = 0; h < w->host.n_nodes; h++)
                load[h] = sim_node_load(w, (int)h);
        IDSET_FOREACH (v, &a->vcpus) {
                struct sim_vcpu *vc;
                int to;

                if ((unsigned)v >= vm->n_vcpus)
                        return -ENOENT;
                vc = &vm->vcpus[v];
                vc->allowed = a->node_mask;
                if (vc->node >= 0 && NODEMASK_TEST(a->node_mask, vc->node))
                        continue;
                to = sim_least_loaded(w, a->node_mask, load);
                if (to < 0)
                        return -EINVAL;
                note_move(w, &vc->left_node, &vc->left_period, vc->node, to);
                load[vc->node] -= vc->busy;
                load[to] += vc->busy;
                vc->node = to;
        }
        return 0;
}

static int apply_migrate(struct sim_world *w, struct sim_vm *vm, const struct action *a)
{
        struct sim_cell *cell;

        if (a->cell < 0 || (unsigned)a->cell >= vm->n_cells || a->node < 0 ||
            (unsigned)a->node >= w->host.n_nodes)
                return -EINVAL;
        cell = &vm->cells[a->cell];
        for (uint64_t off = a->offset; off < a->offset + a->bytes; off += SIM_CHUNK_BYTES) {
                uint64_t k = off / SIM_CHUNK_BYTES;
                struct sim_chunk *ch;

                if (k >= cell->n_chunks)
                        return -ERANGE;
                ch = &cell->chunks[k];
                if (ch->node == a->node)
                        continue;
                if (w->moved_this_period + SIM_CHUNK_BYTES > w->bandwidth_per_period)
                        return -EBUSY;
                if (sim_node_free(w, a->node) < SIM_CHUNK_BYTES)
                        return -ENOMEM;
                note_move(w, &ch->left_node, &ch->left_period, ch->node, a->node);
                if (ch->node >= 0)
                        w->mem_used[ch->node] -= SIM_CHUNK_BYTES;
                w->mem_used[a->node] += SIM_CHUNK_BYTES;
                ch->node = (int8_t)a->node;
                ch->moved_period = (uint32_t)w->period;
                w->moved_this_period += SIM_CHUNK_BYTES;
                w->bytes_migrated += SIM_CHUNK_BYTES;
        }
        return 0;
}

int sim_apply(void *userdata, const struct snapshot *s, const struct action *a)
{
        struct sim_world *w = userdata;
        struct sim_vm *vm;
        int r = 0;

        if (a->vm_index >= w->n_active_map)
                return -ENOENT;
        vm = &w->vms[w->active_map[a->vm_index]];
        if (vm->id != a->vm_id)
                return -ESTALE;
        switch (a->type) {
        case ACTION_PIN_VCPUS:
                r = apply_pin(w, vm, a);
                break;
        case ACTION_PIN_EMULATOR:
                vm->emulator_node = a->node;
                break;
        case ACTION_MIGRATE:
                r = apply_migrate(w, vm, a);
                break;
        case ACTION_SET_HOME:
        case ACTION_SET_REGION_POLICY:
                break; /* no new allocations are simulated; homes matter through pins and moves */
        default:
                r = -EINVAL;
        }
        if (r < 0)
                w->failed_actions++;
        return r;
}

uint64_t sim_clock_now_ns(void *userdata)
{
        struct timespec ts;

        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}
