/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sampler object: configuration, sampler choice, the public side of the per-VM state, and the
 * per-period entry point. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sampler-damon.h"
#include "sampler-internal.h"
#include "sampler-select.h"
#include "vnuma/basic/log.h"
#include "vnuma/basic/string-table.h"

static const char *const sampler_kind_table[_SAMPLER_KIND_MAX] = {
        [SAMPLER_AUTO] = "auto",       [SAMPLER_RESIDENCY] = "residency",
        [SAMPLER_HINTING] = "hinting", [SAMPLER_SOFT_DIRTY] = "soft-dirty",
        [SAMPLER_DAMON] = "damon",
};

DEFINE_STRING_TABLE_LOOKUP(sampler_kind, enum sampler_kind);

void sampler_config_init(struct sampler_config *c)
{
        *c = (struct sampler_config){
                .kind = SAMPLER_AUTO,
                .window_bytes = SAMPLER_WINDOW_BYTES_DEFAULT,
                .chunk_bytes = SAMPLER_CHUNK_BYTES_DEFAULT,
        };
}

/* Claims the kdamond. Asked for by name, a failure is the caller's; under auto it is one log line
 * and the next sampler in line. */
static int sampler_use_damon(struct sampler *s, enum sampler_kind kind)
{
        _cleanup_free_ char *why = NULL;
        bool was_on = false;
        int r;

        r = sampler_damon_new(s->sysfs_root, &s->damon, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0 && kind != SAMPLER_AUTO)
                return log_error_errno(r, "Sampler damon: %s", why ?: strerror(-r));
        if (r < 0) {
                s->flags = s->fallback_flags;
                log_info("Sampler auto: %s (DAMON: %s).", sampler_describe(s), why ?: strerror(-r));
                return 0;
        }
        if (kind == SAMPLER_AUTO)
                log_info("Sampler auto: %s (DAMON with tried_regions, kdamond %s).", sampler_describe(s),
                         sampler_damon_dir(s->damon));
        if (sampler_damon_taken_over(s->damon, &was_on))
                log_info("Sampler damon: took over %s, left by an earlier vnumad (it was %s).",
                         sampler_damon_dir(s->damon), was_on ? "running" : "stopped");
        return 0;
}

int sampler_new(const struct sampler_config *cfg, struct sampler **ret)
{
        _cleanup_(sampler_freep) struct sampler *s = NULL;
        uint64_t window = cfg->window_bytes ?: SAMPLER_WINDOW_BYTES_DEFAULT;
        uint64_t chunk = cfg->chunk_bytes ?: SAMPLER_CHUNK_BYTES_DEFAULT;
        struct sampler_caps caps;
        const char *what = NULL;
        unsigned line = 0;
        int r;

        if (chunk < 4096 || (chunk & (chunk - 1)) || window < chunk)
                return -EINVAL;
        if (!sampler_kind_to_string(cfg->kind))
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->procfs_root = strdup(cfg->procfs_root ?: "/proc");
        s->sysfs_root = strdup(cfg->sysfs_root ?: "/sys");
        if (!s->procfs_root || !s->sysfs_root)
                return -ENOMEM;
        s->window_bytes = window;
        s->chunk_bytes = chunk;
        s->now_ns = cfg->now_ns;

        /* The soft-dirty probe clears our own soft-dirty bits; only run it when it could matter. */
        r = sampler_caps_read(s->procfs_root, s->sysfs_root,
                              cfg->kind == SAMPLER_AUTO || cfg->kind == SAMPLER_SOFT_DIRTY, &caps, &what,
                              &line);
        if (r < 0)
                return log_debug_errno(r, "sampler: %s%s:%u: cannot read: %m", s->procfs_root, strna(what),
                                       line);
        r = sampler_select(cfg->kind, &caps, &s->flags);
        if (r < 0)
                return log_debug_errno(r, "sampler: %s is not available on this host: %m",
                                       sampler_kind_to_string(cfg->kind));
        if (s->flags & SAMPLER_USE_DAMON) {
                struct sampler_caps no_damon = caps;

                no_damon.damon = false;
                (void)sampler_select(SAMPLER_AUTO, &no_damon, &s->fallback_flags);
                r = sampler_use_damon(s, cfg->kind);
                if (r < 0)
                        return r;
        } else if (cfg->kind == SAMPLER_AUTO)
                log_info("Sampler auto: %s (DAMON: no %s%s).", sampler_describe(s), s->sysfs_root,
                         DAMON_ADMIN_PATH);
        log_debug("sampler: numa_balancing=%d sched_faults=%d soft_dirty=%d damon=%d -> %s",
                  caps.numa_balancing, caps.sched_numa_faults, caps.soft_dirty, caps.damon,
                  sampler_describe(s));
        *ret = TAKE_PTR(s);
        return 0;
}

struct sampler *sampler_free(struct sampler *s)
{
        if (!s)
                return NULL;
        sampler_damon_free(s->damon);
        for (size_t i = 0; i < s->n_vms; i++)
                sampler_vm_state_done(&s->vms[i]);
        free(s->vms);
        free(s->cpu_prev);
        free(s->issues);
        free(s->procfs_root);
        free(s->sysfs_root);
        free(s);
        return NULL;
}

const char *sampler_describe(const struct sampler *s)
{
        if (s->flags & SAMPLER_USE_HINTING)
                return "residency+hinting";
        if (s->flags & SAMPLER_USE_SOFT_DIRTY)
                return "residency+soft-dirty";
        if (s->flags & SAMPLER_USE_DAMON)
                return "residency+damon";
        return "residency";
}

unsigned sampler_flags(const struct sampler *s)
{
        return s->flags;
}

int sampler_set_window(struct sampler *s, uint64_t window_bytes)
{
        if (window_bytes < s->chunk_bytes)
                return -EINVAL;
        s->window_bytes = window_bytes;
        return 0;
}

uint64_t sampler_window(const struct sampler *s)
{
        return s->window_bytes;
}

void sampler_forget_vm(struct sampler *s, uint64_t vm_id)
{
        struct sampler_vm_state *vs = sampler_find_vm(s, vm_id);

        if (!vs)
                return;
        sampler_vm_state_done(vs);
        *vs = s->vms[--s->n_vms];
}

int sampler_note_moved(struct sampler *s, uint64_t vm_id, unsigned cell, uint64_t offset, uint64_t bytes,
                       int node_id)
{
        struct sampler_vm_state *vs = sampler_find_vm(s, vm_id);

        if (!vs || cell >= vs->n_cells)
                return -ENOENT;
        if (node_id < 0 || node_id >= RESIDENCY_MAX_NODES)
                return -EINVAL;
        (void)chunk_map_note_moved(&vs->maps[cell], offset, bytes, node_id);
        return 0;
}

int sampler_vm_coverage(const struct sampler *s, uint64_t vm_id, uint64_t *ret_known, uint64_t *ret_total)
{
        const struct sampler_vm_state *vs = sampler_find_vm(s, vm_id);
        uint64_t known = 0, total = 0;

        if (!vs)
                return -ENOENT;
        for (unsigned c = 0; c < vs->n_cells; c++) {
                total += vs->maps[c].size_bytes;
                known += vs->maps[c].size_bytes - vs->maps[c].unknown_bytes;
        }
        *ret_known = known;
        *ret_total = total;
        return 0;
}

static bool duplicate_id(const struct sampler_vm *vms, size_t i)
{
        for (size_t j = 0; j < i; j++)
                if (vms[j].id == vms[i].id)
                        return true;
        return false;
}

int sampler_sense(struct sampler *s, const struct host_topology *topo, const struct sampler_vm *vms,
                  size_t n_vms, uint64_t period, uint64_t period_ns, struct snapshot **ret)
{
        _cleanup_(snapshot_freep) struct snapshot *snap = NULL;
        struct snap_host host;
        unsigned k = 0;
        int r;

        s->n_issues = 0;
        if (n_vms > UINT32_MAX)
                return -E2BIG;
        r = sampler_sense_host(s, topo, &host);
        if (r < 0)
                return r;
        if (s->flags & SAMPLER_USE_DAMON) {
                r = sampler_damon_refresh(s, s->damon, vms, n_vms, period_ns);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) { /* the first start failed: this host's kdamond is not to be had */
                        s->damon = sampler_damon_free(s->damon);
                        s->flags = s->fallback_flags;
                        log_warning_errno(
                                r, "Sampler: DAMON's kdamond did not start (%m); using %s from now on.",
                                sampler_describe(s));
                }
        }
        r = snapshot_new((unsigned)n_vms, &snap);
        if (r < 0)
                return r;
        snap->period = period;
        snap->period_ns = period_ns;
        s->period_ns = period_ns;
        snap->host = host;

        for (size_t i = 0; i < n_vms; i++) {
                struct snap_vm *sv = &snap->vms[k];

                if (!vms[i].model || vms[i].model->pid <= 0) {
                        r = sampler_add_issue(s, vms[i].id, SAMPLER_ISSUE_FAILED, -EINVAL, "no guest model");
                } else if (duplicate_id(vms, i)) {
                        r = sampler_add_issue(s, vms[i].id, SAMPLER_ISSUE_FAILED, -EEXIST,
                                              "VM id passed twice; the second one is left out");
                } else {
                        r = sampler_sense_vm(s, topo, &vms[i], sv);
                        if (r >= 0) {
                                k++;
                                continue;
                        }
                        snapshot_vm_discard(sv);
                }
                if (r == -ENOMEM)
                        return r;
        }
        snap->n_vms = k;
        *ret = TAKE_PTR(snap);
        return 0;
}
