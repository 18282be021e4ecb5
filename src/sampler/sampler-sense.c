/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One VM's part of the period: vCPU placement and runtime, hinting faults, emulator node, and
 * the residency (+ soft-dirty) window of every cell. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler-damon.h"
#include "sampler-internal.h"
#include "sampler-settled.h"
#include "sampler-softdirty.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/host/proc-task.h"

/* Whether QEMU still runs: /proc/PID is there and it is not a zombie (exited, not yet reaped
 * by libvirt, with no memory left to sample). */
static bool process_alive(const struct sampler *s, pid_t pid)
{
        _cleanup_free_ char *line = NULL;
        const char *close;
        char rel[32];
        int r;

        snprintf(rel, sizeof(rel), "/%d/stat", (int)pid);
        r = read_one_line_at(s->procfs_root, rel, &line);
        if (r == -ENOENT || r == -ESRCH)
                return false;
        if (r < 0)
                return true; /* cannot tell: do not declare it dead */
        close = strrchr(line, ')');
        return !close || (close[1] != ' ' || (close[2] != 'Z' && close[2] != 'X'));
}

/* Records why the VM is left out this period and returns error (or -ENOMEM). Whatever failed, a
 * QEMU that is no more is "gone" (move_pages on a zombie is -EINVAL, not -ESRCH); a vanished
 * file of a live one means the model is out of date. */
static int vm_error(struct sampler *s, const struct sampler_vm *in, int error, const char *what)
{
        enum sampler_issue_kind kind;
        int r;

        if (!process_alive(s, in->model->pid))
                kind = SAMPLER_ISSUE_GONE;
        else if (error == -ENOENT || error == -ESRCH)
                kind = SAMPLER_ISSUE_STALE;
        else
                kind = SAMPLER_ISSUE_FAILED;
        r = sampler_add_issue(s, in->id, kind, error, "%s: %s", what, strerror(-error));
        return r < 0 ? r : error;
}

static int node_pos_of_thread(const struct host_topology *topo, const struct task_placement *tp)
{
        int id = host_topology_node_of_thread(topo, &tp->affinity, tp->last_cpu);
        return id >= 0 ? snapshot_node_pos(topo, id) : -1;
}

/* x ns of a span, as ns of the period. */
static uint64_t per_period(uint64_t x, uint64_t span_ns, uint64_t period_ns)
{
        return span_ns ? (uint64_t)((long double)x * (long double)period_ns / (long double)span_ns) : x;
}

static int sense_vcpus(struct sampler *s, const struct host_topology *topo, const struct sampler_vm *in,
                       struct sampler_vm_state *vs, struct snap_vm *sv)
{
        const struct guest_model *m = in->model;
        uint64_t now = s->now_ns ? s->now_ns() : 0, span = 0;

        if (now && vs->vcpus_read_ns && now > vs->vcpus_read_ns)
                span = now - vs->vcpus_read_ns;
        vs->vcpus_read_ns = now;

        for (unsigned v = 0; v < m->n_vcpus; v++) {
                const struct guest_vcpu *gv = &m->vcpus[v];
                struct sampler_vcpu_state *st = &vs->vcpus[v];
                struct snap_vcpu *out = &sv->vcpus[v];
                struct task_placement tp;
                uint64_t runtime = 0, wait = 0;
                char what[128];
                int r;

                r = proc_task_placement_read(s->procfs_root, m->pid, gv->tid, &tp);
                if (r < 0) {
                        snprintf(what, sizeof(what), "%s/%d/task/%d/stat of vCPU %d", s->procfs_root,
                                 (int)m->pid, (int)gv->tid, gv->index);
                        return vm_error(s, in, r, what);
                }
                if (st->tid != gv->tid)
                        *st = (struct sampler_vcpu_state){.tid = gv->tid};
                /* Run time and the time spent waiting for a CPU: together what the vCPU would run
                 * if it could (perf-model.h). A smaller value is a thread that started over. */
                if (st->have_runtime) {
                        runtime = tp.runtime_ns >= st->runtime_ns ? tp.runtime_ns - st->runtime_ns
                                                                  : tp.runtime_ns;
                        wait = tp.wait_ns >= st->wait_ns ? tp.wait_ns - st->wait_ns : tp.wait_ns;
                        runtime = per_period(runtime, span, s->period_ns);
                        wait = per_period(wait, span, s->period_ns);
                } else
                        sv->cpu_unmeasured = true;
                st->runtime_ns = tp.runtime_ns;
                st->wait_ns = tp.wait_ns;
                st->have_runtime = true;

                out->node = node_pos_of_thread(topo, &tp);
                out->runtime_ns = runtime;
                out->wait_ns = wait;
                if (out->node >= 0 && out->cell < sv->n_cells)
                        sv->cells[out->cell].cpu_ns[out->node] += runtime;
        }
        return 0;
}

struct fault_sink {
        const struct host_topology *topo;
        struct snap_cell *cell;
};

static void add_faults(int node, uint64_t faults, void *userdata)
{
        struct fault_sink *sink = userdata;
        int pos = snapshot_node_pos(sink->topo, node);

        if (pos >= 0)
                sink->cell->access[pos] += faults;
}

/* All vCPUs' sched files are read before any baseline moves, so a VM whose text is malformed
 * keeps its baselines and the next good period covers both. */
static int sense_hinting(struct sampler *s, const struct host_topology *topo, const struct sampler_vm *in,
                         struct sampler_vm_state *vs, struct snap_vm *sv)
{
        const struct guest_model *m = in->model;
        _cleanup_free_ struct sched_numa_faults *cur = NULL;

        if (m->n_vcpus == 0)
                return 0;
        cur = calloc(m->n_vcpus, sizeof(*cur));
        if (!cur)
                return -ENOMEM;
        for (unsigned v = 0; v < m->n_vcpus; v++) {
                char what[160];
                unsigned line = 0;
                int r;

                r = sched_numa_faults_read(s->procfs_root, m->pid, m->vcpus[v].tid, &cur[v], &line);
                snprintf(what, sizeof(what), "%s/%d/task/%d/sched", s->procfs_root, (int)m->pid,
                         (int)m->vcpus[v].tid);
                if (r == -ENOENT || r == -ESRCH)
                        return vm_error(s, in, r, what);
                if (r == -EBADMSG || r == -E2BIG)
                        return sampler_add_issue(
                                s, in->id, SAMPLER_ISSUE_HINTING, r,
                                "%s:%u: %s; hinting data of this VM skipped this period", what, line,
                                r == -E2BIG ? "too many numa_faults nodes" : "malformed line");
                if (r < 0)
                        return sampler_add_issue(s, in->id, SAMPLER_ISSUE_HINTING, r,
                                                 "%s: %s; hinting data of this VM skipped this period", what,
                                                 strerror(-r));
        }
        for (unsigned v = 0; v < m->n_vcpus; v++) {
                struct sampler_vcpu_state *st = &vs->vcpus[v];
                struct fault_sink sink = {.topo = topo};

                if (sv->n_cells > 0) {
                        sink.cell = &sv->cells[sv->vcpus[v].cell];
                        sched_faults_delta(st->have_faults ? &st->faults : NULL, &cur[v], add_faults, &sink);
                }
                st->faults = cur[v];
                st->have_faults = true;
        }
        return 0;
}

/* Where most emulator threads are confined to, or else last ran (lowest position on a tie). Threads come and
 * go, so one that cannot be read is skipped; without any listed, QEMU's main thread stands in. */
static void sense_emulator(struct sampler *s, const struct host_topology *topo, const struct guest_model *m,
                           struct snap_vm *sv)
{
        unsigned count[SNAP_NODES_MAX] = {}, n_emulator = 0;
        int best = -1;

        for (unsigned i = 0; i <= m->n_threads; i++) {
                struct task_placement tp;
                pid_t tid;
                int pos;

                if (i < m->n_threads) {
                        if (m->threads[i].kind != GUEST_THREAD_EMULATOR)
                                continue;
                        tid = m->threads[i].tid;
                        n_emulator++;
                } else if (n_emulator == 0)
                        tid = m->pid;
                else
                        break;
                if (proc_task_placement_read(s->procfs_root, m->pid, tid, &tp) < 0)
                        continue;
                pos = node_pos_of_thread(topo, &tp);
                if (pos >= 0)
                        count[pos]++;
        }
        for (unsigned h = 0; h < topo->n_nodes && h < SNAP_NODES_MAX; h++)
                if (count[h] > 0 && (best < 0 || count[h] > count[best]))
                        best = (int)h;
        sv->emulator_node = best;
}

struct chunk_scan {
        pid_t pid;
        int pagemap_fd; /* -1: no soft-dirty */
        struct residency res;
        uint64_t dirty_pages;
        int soft_dirty_error;
        const struct damon_region *damon; /* this VM's DAMON regions, sorted; NULL: none */
        size_t n_damon;
        uint32_t damon_max_acc;
        uint64_t damon_hot;
};

static int scan_piece(const struct cell_piece *p, void *userdata)
{
        struct chunk_scan *cs = userdata;
        uint64_t dirty = 0;
        int r;

        r = residency_scan(cs->pid, p->hva, p->length, p->page_size, &cs->res);
        if (r < 0)
                return r;
        if (cs->pagemap_fd >= 0 && cs->soft_dirty_error == 0) {
                r = soft_dirty_count(cs->pagemap_fd, p->hva, p->length, &dirty);
                if (r < 0)
                        cs->soft_dirty_error = r;
                else
                        cs->dirty_pages += dirty;
        }
        if (cs->damon)
                cs->damon_hot +=
                        damon_range_hotness(cs->damon, cs->n_damon, p->hva, p->length, cs->damon_max_acc);
        return 0;
}

struct vm_scan {
        uint64_t vm_bytes;
        int pagemap_fd; /* -1 unless soft-dirty is on and usable */
        bool hot_valid; /* a clear happened: dirty bits mean "written since that clear" */
        int soft_dirty_error;
        const struct damon_region *damon; /* SAMPLER_USE_DAMON and this period's regions read */
        size_t n_damon;
        uint32_t damon_max_acc;
};

static int sense_cell(struct sampler *s, const struct host_topology *topo, const struct sampler_vm *in,
                      struct sampler_vm_state *vs, unsigned c, struct vm_scan *scan, struct snap_vm *sv)
{
        const struct guest_cell *gc = &in->model->cells[c];
        struct chunk_map *map = &vs->maps[c];
        struct snap_cell *sc = &sv->cells[c];
        struct snap_chunk *chunks;
        struct scan_window w;
        int r;

        scan_window_next(
                map->n_chunks, map->cursor,
                scan_window_share(s->window_bytes, scan->vm_bytes, map->size_bytes, map->chunk_bytes), &w);
        r = snapshot_cell_alloc_chunks(sc, (unsigned)w.n, &chunks);
        if (r < 0)
                return r;
        for (uint64_t i = 0; i < w.n; i++) {
                uint64_t idx = (w.first + i) % map->n_chunks, offset = idx * map->chunk_bytes;
                uint64_t len = chunk_map_chunk_len(map, idx), present;
                struct chunk_scan cs = {
                        .pid = in->model->pid,
                        .pagemap_fd = scan->soft_dirty_error ? -1 : scan->pagemap_fd,
                        .damon = scan->damon,
                        .n_damon = scan->n_damon,
                        .damon_max_acc = scan->damon_max_acc,
                };
                uint32_t hot = 0;
                int node, pos;

                r = cell_for_each_piece(gc, offset, len, scan_piece, &cs);
                if (r < 0) {
                        char what[128];
                        snprintf(what, sizeof(what), "move_pages over cell %d at offset %llu", gc->id,
                                 (unsigned long long)offset);
                        return vm_error(s, in, r, what);
                }
                if (cs.soft_dirty_error && !scan->soft_dirty_error)
                        scan->soft_dirty_error = cs.soft_dirty_error;
                chunk_summarize(&cs.res, &node, &present);
                chunk_map_set(map, idx, node, present);
                pos = node >= 0 ? snapshot_node_pos(topo, node) : -1;
                if (scan->hot_valid && cs.pagemap_fd >= 0 && !cs.soft_dirty_error)
                        hot = (uint32_t)MIN(cs.dirty_pages, (uint64_t)UINT32_MAX);
                else if (cs.damon)
                        hot = (uint32_t)MIN(cs.damon_hot, (uint64_t)UINT32_MAX);
                chunks[i] = (struct snap_chunk){.offset = offset, .bytes = len, .node = pos, .hotness = hot};
                if (hot > 0 && pos >= 0)
                        sc->access[pos] += hot;
        }
        map->cursor = w.next;
        snapshot_build_cell_residency(sc, map, topo);
        return 0;
}

static int soft_dirty_begin(struct sampler *s, const struct sampler_vm *in, struct sampler_vm_state *vs,
                            struct vm_scan *scan)
{
        char what[96];
        int r;

        r = soft_dirty_open_pagemap(s->procfs_root, in->model->pid, &scan->pagemap_fd);
        snprintf(what, sizeof(what), "%s/%d/pagemap", s->procfs_root, (int)in->model->pid);
        if (r == -ENOENT || r == -ESRCH)
                return vm_error(s, in, r, what);
        if (r < 0) {
                scan->soft_dirty_error = r;
                return sampler_add_issue(s, in->id, SAMPLER_ISSUE_SOFT_DIRTY, r, "%s: %s", what,
                                         strerror(-r));
        }
        scan->hot_valid = vs->soft_dirty_cleared;
        return 0;
}

/* At most one clear per VM per period, after its windows are read: it resets the whole process
 * and every first write after it faults, and hot marks only order migrations, so only while the
 * VM's memory is not settled where its vCPUs run. The dirty bits span the periods since the last
 * clear. */
static int soft_dirty_end(struct sampler *s, const struct sampler_vm *in, struct sampler_vm_state *vs,
                          const struct vm_scan *scan, const struct snap_vm *sv)
{
        double local, total;
        char what[96];
        int r;

        if (scan->soft_dirty_error && scan->pagemap_fd >= 0)
                (void)sampler_add_issue(s, in->id, SAMPLER_ISSUE_SOFT_DIRTY, scan->soft_dirty_error,
                                        "%s/%d/pagemap: %s", s->procfs_root, (int)in->model->pid,
                                        strerror(-scan->soft_dirty_error));
        vm_memory_locality(sv, &local, &total);
        if (vs->soft_dirty_cleared && vm_memory_settled(local, total))
                return 0;
        r = soft_dirty_clear(s->procfs_root, in->model->pid);
        vs->soft_dirty_cleared = r >= 0;
        if (r >= 0)
                return 0;
        snprintf(what, sizeof(what), "%s/%d/clear_refs", s->procfs_root, (int)in->model->pid);
        if (r == -ENOENT || r == -ESRCH)
                return vm_error(s, in, r, what);
        return sampler_add_issue(s, in->id, SAMPLER_ISSUE_SOFT_DIRTY, r, "%s: %s", what, strerror(-r));
}

/* Whether this period leaves the VM's windows (and soft-dirty) alone: its memory is settled
 * where its vCPUs run, by the chunk maps (every chunk seen at least once, moves noted) and this
 * period's vCPU placement, and its interval since the last scan is not up. The cells then carry
 * the maps' residency and no window. A vCPU that moves away unsettles it at once. */
static bool vm_scan_skipped(const struct host_topology *topo, struct sampler_vm_state *vs,
                            struct snap_vm *sv)
{
        bool known = true, settled = false;

        for (unsigned c = 0; c < vs->n_cells; c++)
                known = known && vs->maps[c].unknown_bytes == 0;
        if (known) {
                double local, total;

                for (unsigned c = 0; c < vs->n_cells; c++)
                        snapshot_build_cell_residency(&sv->cells[c], &vs->maps[c], topo);
                vm_memory_locality(sv, &local, &total);
                settled = vm_memory_settled(local, total);
        }
        if (settled && ++vs->scan_age < vs->scan_interval)
                return true;
        vs->scan_age = 0;
        vs->scan_interval = scan_next_interval(vs->scan_interval, settled);
        return false;
}

int sampler_sense_vm(struct sampler *s, const struct host_topology *topo, const struct sampler_vm *in,
                     struct snap_vm *sv)
{
        struct vm_scan scan = {.pagemap_fd = -1};
        struct sampler_vm_state *vs;
        int r;

        r = sampler_vm_state_get(s, in->id, in->model, &vs);
        if (r < 0)
                return r == -ENOMEM ? r : vm_error(s, in, r, "per-VM state");
        r = snapshot_build_vm_begin(sv, in);
        if (r < 0)
                return r;
        r = sense_vcpus(s, topo, in, vs, sv);
        if (r < 0)
                return r;
        if (s->flags & SAMPLER_USE_HINTING) {
                r = sense_hinting(s, topo, in, vs, sv);
                if (r < 0)
                        return r;
        }
        sense_emulator(s, topo, in->model, sv);

        if (vm_scan_skipped(topo, vs, sv))
                return 0;
        for (unsigned c = 0; c < vs->n_cells; c++)
                scan.vm_bytes += vs->maps[c].size_bytes;
        if (s->flags & SAMPLER_USE_SOFT_DIRTY) {
                r = soft_dirty_begin(s, in, vs, &scan);
                if (r < 0)
                        return r;
        }
        if (s->flags & SAMPLER_USE_DAMON) {
                r = sampler_damon_vm_regions(s, s->damon, in->id, &scan.damon, &scan.n_damon,
                                             &scan.damon_max_acc);
                if (r < 0)
                        return r;
        }
        for (unsigned c = 0; c < vs->n_cells && r >= 0; c++)
                r = sense_cell(s, topo, in, vs, c, &scan, sv);
        if (r >= 0 && scan.pagemap_fd >= 0)
                r = soft_dirty_end(s, in, vs, &scan, sv);
        if (scan.pagemap_fd >= 0)
                close(scan.pagemap_fd);
        return r < 0 ? r : 0;
}
