/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One period: discovery, the engine step with the real sampler and actuators as its callbacks,
 * and the per-VM timeline; and building the sampler, actuator and engine from the config. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "daemon.h"
#include "vnuma/basic/log.h"
#include "vnuma/report/snapshot-locality.h"

static uint64_t clock_now(void *userdata)
{
        return daemon_now_ns();
}

/* What the sampler could not read this period. A VM whose QEMU exited is dropped; one whose
 * threads changed is re-learned from QMP at the next discovery. */
static void handle_sampler_issues(struct daemon *d)
{
        const struct sampler_issue *issues;
        size_t n = sampler_issues(d->sampler, &issues);

        for (size_t i = 0; i < n; i++) {
                const struct sampler_issue *is = &issues[i];
                struct managed_vm *vm = vm_manager_find(&d->vms, is->vm_id);

                switch (is->kind) {
                case SAMPLER_ISSUE_GONE:
                        if (vm) {
                                log_vm(LOG_NOTICE, vm->name, "VM %s: QEMU exited (%s); no longer managed.",
                                       vm->name, is->message);
                                daemon_drop_vm(d, vm);
                        }
                        break;
                case SAMPLER_ISSUE_STALE:
                        if (vm) {
                                log_vm(LOG_NOTICE, vm->name,
                                       "VM %s: its threads changed (%s); learning its layout again.",
                                       vm->name, is->message);
                                daemon_drop_vm(d, vm);
                                d->rescan = true;
                        }
                        break;
                case SAMPLER_ISSUE_HOST:
                        log_warning("Host readings failed: %s", is->message);
                        break;
                default:
                        log_vm(LOG_WARNING, vm ? vm->name : NULL, "VM %s: %s: %s", vm ? vm->name : "?",
                               sampler_issue_kind_to_string(is->kind), is->message);
                        break;
                }
        }
}

/* The bytes of one migration by result, for the metrics. What the actuator reports, and an action
 * that failed without reaching a page (its QEMU gone, libvirt away) as failed. */
static void count_migration(struct managed_vm *vm, const struct action *a, const struct actuator_result *res,
                            int r)
{
        uint64_t *b = vm->migration_bytes,
                 reported = res->bytes_moved + res->bytes_already_there + res->bytes_busy +
                            res->bytes_nomem + res->bytes_absent + res->bytes_shared + res->bytes_failed;

        b[VM_MIGRATION_MOVED] += res->bytes_moved;
        b[VM_MIGRATION_ALREADY_THERE] += res->bytes_already_there;
        b[VM_MIGRATION_BUSY] += res->bytes_busy;
        b[VM_MIGRATION_NO_MEMORY] += res->bytes_nomem;
        b[VM_MIGRATION_ABSENT] += res->bytes_absent;
        b[VM_MIGRATION_SHARED] += res->bytes_shared;
        b[VM_MIGRATION_FAILED] += res->bytes_failed;
        if (r < 0 && reported == 0)
                b[VM_MIGRATION_FAILED] += a->bytes;
}

/* At debug level, the CPU figures the period is planned on: each node's busy CPUs (/proc/stat),
 * and each VM's vCPU run and wait time by the node they ran on. Why a VM was kept whole or split
 * is read off these; logged as sensed, so they come before the period's actions. */
static void log_period_cpu(const struct snapshot *s)
{
        char line[512];
        size_t n = 0;

        if (log_get_max_level() < LOG_DEBUG)
                return;
        for (unsigned h = 0; h < s->host.n_nodes && n < sizeof(line); h++)
                n += (size_t)snprintf(line + n, sizeof(line) - n, " node %d %.2f/%u", s->host.node[h].id,
                                      s->host.node[h].cpu_load, s->host.node[h].n_cpus);
        log_debug("Period %" PRIu64 ": busy CPUs per node over %.2f s:%s", s->period,
                  (double)s->period_ns / 1e9, line);
        for (unsigned i = 0; i < s->n_vms; i++) {
                const struct snap_vm *vm = &s->vms[i];

                n = 0;
                line[0] = 0;
                for (unsigned v = 0; v < vm->n_vcpus && n < sizeof(line); v++) {
                        const struct snap_vcpu *c = &vm->vcpus[v];

                        n += (size_t)snprintf(line + n, sizeof(line) - n, " %u@%d %.2f+%.2f", c->index,
                                              c->node >= 0 ? s->host.node[c->node].id : -1,
                                              (double)c->runtime_ns / (double)s->period_ns,
                                              (double)c->wait_ns / (double)s->period_ns);
                }
                log_vm(LOG_DEBUG, vm->name, "VM %s: vCPU@node run+wait in CPUs:%s", vm->name, line);
        }
}

/* Engine callbacks: the real sampler and actuator, over the managed VMs. */
static int engine_sense(void *userdata, uint64_t period, struct snapshot **ret)
{
        struct daemon *d = userdata;
        _cleanup_free_ struct sampler_vm *in = calloc(d->vms.n_vms ?: 1, sizeof(*in));

        if (!in)
                return -ENOMEM;
        for (size_t i = 0; i < d->vms.n_vms; i++) {
                struct managed_vm *vm = d->vms.vms[i];

                in[i] = (struct sampler_vm){
                        .id = vm->id,
                        .name = vm->name,
                        .model = vm->model,
                        .policy = vm->policy,
                };
                /* Invalid policy: measure, never act. */
                if (vm->policy_error)
                        in[i].policy.mode = VM_POLICY_OBSERVE;
        }
        /* Demand is run and wait time over the time that really went by since the last reading,
         * which the readings' deltas cover whole: on a loaded host the timer fires late, and
         * neither the configured period nor a clamp of it may stand for it (the lab saw a vCPU
         * seem to run 1.08 CPUs over a late period clamped to 4 of them). The migration budget
         * of a late period is capped instead (budget_period_max_ns). */
        uint64_t now = daemon_now_ns(), elapsed = d->config->period_ms * 1000000ull;
        int r;

        if (d->last_sense_ns && now > d->last_sense_ns)
                elapsed = MAX(now - d->last_sense_ns, UINT64_C(1000000));
        d->last_sense_ns = now;
        r = sampler_sense(d->sampler, d->topo, in, d->vms.n_vms, period, elapsed, ret);
        if (r >= 0 && *ret && (*ret)->period_ns > 0)
                log_period_cpu(*ret);
        return r;
}

static int engine_apply(void *userdata, const struct snapshot *s, const struct action *a)
{
        struct daemon *d = userdata;
        struct managed_vm *vm = vm_manager_find(&d->vms, a->vm_id);
        struct actuator_result res = {};
        char line[256];
        int r;

        if (!vm)
                return -ESRCH;
        struct actuator_vm avm = {.id = vm->id, .model = vm->model, .name = vm->name};
        r = managed_vm_check(vm, d->vms.procfs_root) ?: daemon_libvirt_apply(d, vm, s, a, &res);
        if (r == 1)
                r = actuator_apply(d->actuator, s, a, &avm, &res);
        if (a->type == ACTION_MIGRATE)
                count_migration(vm, a, &res, r);
        if (action_format(a, line, sizeof(line)) < 0)
                snprintf(line, sizeof(line), "%s", action_type_to_string(a->type));
        if (res.notice) /* once per VM: how its region policy is enforced (vnumad(8)) */
                log_vm(LOG_NOTICE, vm->name, "VM %s: %s", vm->name, res.notice);
        if (r == -EOPNOTSUPP) {
                /* The actuator already said why, once. */
                log_vm(LOG_DEBUG, vm->name, "VM %s: %s not supported for this VM.", vm->name, line);
                return r;
        }
        if (r == -ENOTCONN) {
                /* libvirtd is away: the pin is planned again after the reconnect. */
                log_vm(LOG_DEBUG, vm->name, "VM %s: %s waits for libvirt.", vm->name, line);
                return r;
        }
        if (r < 0) {
                log_vm_errno(LOG_WARNING, r, vm->name, "VM %s: %s failed: %m", vm->name, line);
                return r;
        }
        if (a->type == ACTION_MIGRATE) {
                (void)sampler_note_moved(d->sampler, vm->id, (unsigned)a->cell, a->offset, a->bytes,
                                         a->node_id);
                vm->period_bytes_migrated += res.bytes_moved;
                d->total_bytes_migrated += res.bytes_moved;
        }
        if (a->type == ACTION_MIGRATE)
                /* What move_pages did with each page: the reason a chunk does not move. */
                log_vm(LOG_DEBUG, vm->name,
                       "VM %s: %s: %" PRIu64 " pages moved, %" PRIu64 " already there, %" PRIu64
                       " busy, %" PRIu64 " no memory, %" PRIu64 " absent, %" PRIu64
                       " left because shared, %" PRIu64 " failed; %" PRIu64 " were behind a hinting pte",
                       vm->name, line, res.pages_moved, res.pages_already_there, res.pages_busy,
                       res.pages_nomem, res.pages_absent, res.pages_shared, res.pages_failed,
                       res.pages_unhinted);
        else
                log_vm(LOG_DEBUG, vm->name, "VM %s: %s", vm->name, line);
        return 0;
}

static int run_period(struct daemon *d)
{
        struct engine_step_result res = {};
        const struct snapshot *s;
        int r;

        d->period++;
        daemon_reap(d);
        daemon_prune_failures(d);
        if (d->rescan || d->period % QMP_RETRY_PERIODS == 1 || d->vms.n_vms == 0)
                /* A directory change seen while a batch is still being learned waits for the next
                 * period rather than being lost. */
                d->rescan = !daemon_discover_qmp(d) && d->rescan;
        if (d->libvirt_rescan || d->period % QMP_RETRY_PERIODS == 1)
                daemon_libvirt_discover(d);

        {
                /* Unit restrictions to lift (a policy opened up, a restart): retried until done. */
                _cleanup_free_ char *undo_error = NULL;

                if (actuator_tick(d->actuator, &undo_error) > 0 && undo_error)
                        log_warning("%s", undo_error);
        }
        r = engine_step(d->engine, d->period, &res);
        handle_sampler_issues(d);
        if (r < 0)
                return log_error_errno(r, "Period %" PRIu64 ": %m", d->period);
        d->last_step = res;
        daemon_advise_note_period(d);
        d->total_actions += res.n_applied;
        d->total_failed_actions += res.n_failed;

        s = engine_last_snapshot(d->engine);
        for (unsigned i = 0; s && i < s->n_vms; i++) {
                struct managed_vm *vm = vm_manager_find(&d->vms, s->vms[i].id);
                struct locality l = snap_vm_locality(s, &s->vms[i]);
                double ratio = -1;

                if (!vm)
                        continue;
                (void)locality_ratio(&l, &ratio);
                /* What the actuator really moved this period, not what was planned. */
                managed_vm_record(vm, d->period, ratio, vm->period_bytes_migrated);
                vm->period_bytes_migrated = 0;
        }
        sd_notifyf(false, "STATUS=%zu VMs, period %" PRIu64 ", %zu actions (%zu failed)", d->vms.n_vms,
                   d->period, res.n_applied, res.n_failed);
        return 0;
}

int daemon_run_period(struct daemon *d)
{
        uint64_t start = daemon_now_ns();
        int r = run_period(d);

        d->last_period_ns = daemon_now_ns() - start;
        prom_histogram_observe(&d->period_seconds, (double)d->last_period_ns / 1e9);
        daemon_metrics_write_textfile(d);
        return r;
}

void daemon_on_period(void *userdata)
{
        struct daemon *d = userdata;

        /* The watchdog has a timer of its own (watchdog.c): a period may outlast it. */
        (void)daemon_run_period(d);
}

void daemon_policy_params(const struct daemon_config *c, struct policy_params *ret)
{
        policy_params_init(ret);
        ret->imbalance_pct = c->imbalance_pct;
        ret->hysteresis_periods = c->hysteresis_periods;
        ret->vm_migrate_rate = c->default_policy.migrate_rate;
        ret->host_migrate_rate = c->host_migrate_rate;
        ret->budget_period_max_ns = 4 * c->period_ms * 1000000ull;
}

int daemon_new_engine(struct daemon *d, const struct daemon_config *c, struct engine **ret)
{
        static const struct engine_sampler_ops sampler_ops = {.sense = engine_sense};
        static const struct engine_actuator_ops actuator_ops = {.apply = engine_apply};
        static const struct engine_clock_ops clock_ops = {.now_ns = clock_now};
        struct engine_config ec;

        engine_config_init(&ec);
        ec.dry_run = c->dry_run;
        daemon_policy_params(c, &ec.params);
        return engine_new(&ec, &sampler_ops, &actuator_ops, &clock_ops, d, ret);
}

int daemon_new_sampler(struct daemon *d, const struct daemon_config *c, struct sampler **ret)
{
        struct sampler_config sc;
        int kind = sampler_kind_from_string(c->sampler);

        if (kind < 0)
                return kind;
        sampler_config_init(&sc);
        sc.procfs_root = d->args.procfs_root;
        sc.sysfs_root = d->args.sysfs_root;
        sc.kind = kind;
        sc.window_bytes = c->scan_window;
        sc.now_ns = daemon_now_ns;
        return sampler_new(&sc, ret);
}

int daemon_new_actuator(struct daemon *d, struct actuator **ret)
{
        struct actuator_config ac;

        actuator_config_init(&ac);
        ac.procfs_root = d->args.procfs_root;
        ac.sysfs_root = d->args.sysfs_root;
        return actuator_new(&ac, ret);
}
