/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The DAMON sampler with its kdamond: targets kept in line with the managed VMs, and each
 * period's regions split per VM. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sampler-damon.h"
#include "sampler-internal.h"
#include "vnuma/basic/log.h"

struct damon_vm {
        uint64_t id;
        pid_t pid;
        struct damon_range *ranges;
        unsigned n_ranges;
};

struct sampler_damon {
        struct damon_ctl *ctl;
        bool started_once;
        struct damon_attrs attrs; /* of the running kdamond */
        uint32_t max_acc;

        size_t n_vms; /* the running targets, in order */
        struct damon_vm *vms;

        bool pending; /* this period's regions are to be read when a VM first needs them */
        bool valid;   /* this period's regions were read and split */
        struct damon_region *regions;
        size_t n_regions;
        size_t *first, *count; /* per target */
};

static void damon_vms_free(struct damon_vm *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i].ranges);
        free(v);
}

static void period_clear(struct sampler_damon *d)
{
        free(d->regions);
        free(d->first);
        free(d->count);
        d->regions = NULL;
        d->first = d->count = NULL;
        d->n_regions = 0;
        d->valid = false;
}

int sampler_damon_new(const char *sysfs_root, struct sampler_damon **ret, char **ret_error)
{
        struct sampler_damon *d = calloc(1, sizeof(*d));
        int r;

        if (!d)
                return -ENOMEM;
        r = damon_ctl_claim(sysfs_root, &d->ctl, ret_error);
        if (r < 0) {
                free(d);
                return r;
        }
        *ret = d;
        return 0;
}

struct sampler_damon *sampler_damon_free(struct sampler_damon *d)
{
        if (!d)
                return NULL;
        damon_ctl_free(d->ctl); /* stops and removes the kdamond */
        damon_vms_free(d->vms, d->n_vms);
        period_clear(d);
        free(d);
        return NULL;
}

static bool same_targets(const struct sampler_damon *d, const struct damon_vm *v, size_t n)
{
        if (n != d->n_vms)
                return false;
        for (size_t i = 0; i < n; i++)
                if (v[i].id != d->vms[i].id || v[i].pid != d->vms[i].pid ||
                    v[i].n_ranges != d->vms[i].n_ranges ||
                    memcmp(v[i].ranges, d->vms[i].ranges, v[i].n_ranges * sizeof(*v[i].ranges)) != 0)
                        return false;
        return true;
}

static uint64_t total_chunks(const struct sampler *s, const struct damon_vm *v, size_t n)
{
        uint64_t sum = 0;

        for (size_t i = 0; i < n; i++)
                for (unsigned j = 0; j < v[i].n_ranges; j++)
                        sum += (v[i].ranges[j].end - v[i].ranges[j].start) / s->chunk_bytes;
        return sum;
}

/* The targets this period: every VM with a model and ranges DAMON can take. */
static int collect(struct sampler *s, const struct sampler_vm *vms, size_t n_vms, struct damon_vm **ret,
                   size_t *ret_n)
{
        struct damon_vm *v = calloc(n_vms ? n_vms : 1, sizeof(*v));
        size_t k = 0;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n_vms && k < DAMON_TARGETS_MAX; i++) {
                const struct guest_model *m = vms[i].model;
                bool dup = false;
                int r;

                if (!m || m->pid <= 0)
                        continue;
                for (size_t j = 0; j < k; j++)
                        dup = dup || v[j].id == vms[i].id;
                if (dup)
                        continue;
                r = sampler_damon_ranges(m, &v[k].ranges, &v[k].n_ranges);
                if (r == -ENOMEM) {
                        damon_vms_free(v, k);
                        return r;
                }
                if (r < 0) {
                        (void)sampler_add_issue(s, vms[i].id, SAMPLER_ISSUE_DAMON, r,
                                                "guest RAM ranges DAMON cannot monitor; hotness 0");
                        continue;
                }
                v[k].id = vms[i].id;
                v[k].pid = m->pid;
                k++;
        }
        *ret = v;
        *ret_n = k;
        return 0;
}

static int restart(struct sampler *s, struct sampler_damon *d, struct damon_vm *v, size_t n,
                   uint64_t period_ns)
{
        _cleanup_free_ struct damon_target *t = calloc(n ? n : 1, sizeof(*t));
        struct damon_attrs a;
        int r;

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                t[i] = (struct damon_target){
                        .pid = v[i].pid, .ranges = v[i].ranges, .n_ranges = v[i].n_ranges};
        sampler_damon_attrs(period_ns, total_chunks(s, v, n), &a);
        damon_vms_free(d->vms, d->n_vms);
        d->vms = NULL;
        d->n_vms = 0;
        r = damon_ctl_start(d->ctl, &a, t, n);
        if (r < 0)
                return r;
        d->vms = v;
        d->n_vms = n;
        d->attrs = a;
        d->max_acc = sampler_damon_max_accesses(&a);
        if (n > 0)
                d->started_once = true;
        return 0;
}

static int read_period(struct sampler *s, struct sampler_damon *d)
{
        _cleanup_free_ struct damon_target *t = calloc(d->n_vms, sizeof(*t));
        struct timespec t0, t1;
        int r;

        d->first = calloc(d->n_vms, sizeof(*d->first));
        d->count = calloc(d->n_vms, sizeof(*d->count));
        if (!t || !d->first || !d->count)
                return -ENOMEM;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = damon_ctl_update(d->ctl, &d->regions, &d->n_regions);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        /* The request sleeps in the kernel until the kdamond has listed its regions. */
        log_debug("damon: %zu regions in %.1f ms", d->n_regions,
                  (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
        if (r < 0)
                return sampler_add_issue(s, 0, SAMPLER_ISSUE_DAMON, r,
                                         "%s: cannot read the tried regions: %s; hotness 0 this period",
                                         damon_ctl_dir(d->ctl), strerror(-r));
        for (size_t i = 0; i < d->n_vms; i++)
                t[i] = (struct damon_target){
                        .pid = d->vms[i].pid, .ranges = d->vms[i].ranges, .n_ranges = d->vms[i].n_ranges};
        r = damon_regions_assign(d->regions, d->n_regions, t, d->n_vms, d->first, d->count);
        if (r < 0)
                return sampler_add_issue(s, 0, SAMPLER_ISSUE_DAMON, r,
                                         "%s: %zu tried regions do not tile the %zu targets; hotness 0 "
                                         "this period",
                                         damon_ctl_dir(d->ctl), d->n_regions, d->n_vms);
        d->valid = true;
        return 0;
}

int sampler_damon_refresh(struct sampler *s, struct sampler_damon *d, const struct sampler_vm *vms,
                          size_t n_vms, uint64_t period_ns)
{
        struct damon_vm *v = NULL;
        size_t n = 0;
        bool running = false;
        int r;

        period_clear(d);
        r = collect(s, vms, n_vms, &v, &n);
        if (r < 0)
                return r;
        /* The kdamond stops by itself once all its processes exited; a dead pid makes "on" fail.
         * The attributes follow the period measured at the last (re)start only: period_ns is the
         * measured length of this period, and a restart loses what DAMON learned. A state that
         * cannot be read (-EBUSY) is taken as running. */
        if (same_targets(d, v, n) && (n == 0 || damon_ctl_running(d->ctl, &running) < 0 || running)) {
                damon_vms_free(v, n);
        } else {
                r = restart(s, d, v, n, period_ns);
                if (r < 0) {
                        damon_vms_free(v, n);
                        if (!d->started_once && r != -ENOMEM)
                                return r;
                        return sampler_add_issue(s, 0, SAMPLER_ISSUE_DAMON, r,
                                                 "%s: cannot start monitoring %zu VMs: %s; retried next "
                                                 "period",
                                                 damon_ctl_dir(d->ctl), n, strerror(-r));
                }
        }
        /* Read on first use: a period where every VM is settled (no window scanned) then costs
         * no request, which would sleep up to two aggregation intervals. */
        d->pending = d->n_vms > 0;
        return 0;
}

int sampler_damon_vm_regions(struct sampler *s, struct sampler_damon *d, uint64_t vm_id,
                             const struct damon_region **ret, size_t *ret_n, uint32_t *ret_max_acc)
{
        *ret = NULL;
        *ret_n = 0;
        *ret_max_acc = d ? d->max_acc : 0;
        if (!d)
                return 0;
        if (d->pending) {
                int r;

                d->pending = false;
                r = read_period(s, d);
                if (r < 0)
                        return r;
        }
        if (!d->valid)
                return 0;
        for (size_t i = 0; i < d->n_vms; i++)
                if (d->vms[i].id == vm_id) {
                        *ret = d->regions + d->first[i];
                        *ret_n = d->count[i];
                        return 0;
                }
        return 0;
}

const char *sampler_damon_dir(const struct sampler_damon *d)
{
        return damon_ctl_dir(d->ctl);
}

bool sampler_damon_taken_over(const struct sampler_damon *d, bool *ret_was_on)
{
        return damon_ctl_taken_over(d->ctl, ret_was_on);
}
