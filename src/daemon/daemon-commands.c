/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control socket's commands. Replies use stable snake_case keys and base units. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-explain.h"
#include "daemon.h"
#include "vnuma/basic/json-util.h"
#include "vnuma/policies/policy-rules.h"
#include "vnuma/report/metrics-text.h"
#include "vnuma/report/observe.h"
#include "vnuma/report/show.h"
#include "vnuma/report/snapshot-locality.h"

static void add(struct json_object *o, const char *key, struct json_object *v)
{
        json_object_object_add(o, key, v);
}

static struct json_object *str(const char *s)
{
        return s ? json_object_new_string(s) : NULL;
}

static int want_domain(struct daemon *d, struct json_object *args, bool required, struct managed_vm **ret,
                       char **ret_error)
{
        const char *name = NULL;
        int r = json_member_string(args, "domain", &name);

        *ret = NULL;
        if (r == -EBADMSG)
                return asprintf(ret_error, "\"domain\" must be a string") < 0 ? -ENOMEM : -EINVAL;
        if (r == -ENOENT || !args) {
                if (required)
                        return asprintf(ret_error, "missing argument \"domain\"") < 0 ? -ENOMEM : -EINVAL;
                return 0;
        }
        *ret = vm_manager_lookup(&d->vms, name);
        if (!*ret)
                return asprintf(ret_error, "no VM named \"%s\" is managed", name) < 0 ? -ENOMEM : -ENODEV;
        return 0;
}

static struct json_object *policy_json(const struct managed_vm *vm)
{
        struct json_object *p = show_json_policy(&vm->policy);

        add(p, "source", str(vm->policy_source));
        add(p, "error", str(vm->policy_error));
        return p;
}

/* vm in the last period's snapshot, NULL when it was not in it (added since) or its layout
 * differs. */
static const struct snap_vm *snapshot_vm(const struct snapshot *s, const struct managed_vm *vm)
{
        /* Linear in the VMs, as the rest of the daemon's per-VM lookups. */
        for (unsigned i = 0; s && i < s->n_vms; i++)
                if (s->vms[i].id == vm->id)
                        return s->vms[i].n_cells == vm->model->n_cells ? &s->vms[i] : NULL;
        return NULL;
}

/* vCPU contention over the period: the time the vCPU threads of a cell (all of them with cell
 * < 0) were runnable but waited for a CPU (schedstat run_delay), over their runnable time (run +
 * wait). null when they neither ran nor waited. */
static struct json_object *wait_ratio_json(const struct snap_vm *sv, int cell)
{
        uint64_t run = 0, wait = 0;

        for (unsigned i = 0; i < sv->n_vcpus; i++)
                if (cell < 0 || sv->vcpus[i].cell == (unsigned)cell) {
                        run += sv->vcpus[i].runtime_ns;
                        wait += sv->vcpus[i].wait_ns;
                }
        return run + wait ? json_object_new_double((double)wait / (double)(run + wait)) : NULL;
}

static struct json_object *ratio_json(const struct locality *l)
{
        double r;

        return locality_ratio(l, &r) >= 0 ? json_object_new_double(r) : NULL;
}

/* What the last period measured of vm, for top, wait and rebalance --wait: present and off-home
 * bytes (present, not on the cell's home node: what a policy that gathers cells still has to
 * move), vCPU contention, per cell too; null (and no cells) before the VM's first period. */
static void add_measurement(struct json_object *o, const struct snapshot *s, const struct managed_vm *vm,
                            const struct plan *plan)
{
        const struct snap_vm *sv = snapshot_vm(s, vm);
        struct json_object *cells = json_object_new_array();
        struct locality total = {.home_node = -1};

        for (unsigned c = 0; sv && c < sv->n_cells; c++) {
                struct locality l = snap_cell_locality(s, sv, c);
                struct json_object *cell = json_object_new_object();

                locality_accumulate(&total, &l);
                add(cell, "id", json_object_new_int((int)sv->cells[c].id));
                add(cell, "home_node", l.home_node >= 0 ? json_object_new_int(l.home_node) : NULL);
                add(cell, "present_bytes", json_object_new_uint64(l.present_bytes));
                add(cell, "off_home_bytes", json_object_new_uint64(l.present_bytes - l.local_bytes));
                add(cell, "locality_ratio", ratio_json(&l));
                add(cell, "vcpu_wait_ratio", wait_ratio_json(sv, (int)sv->cells[c].id));
                json_object_array_add(cells, cell);
        }
        add(o, "snapshot_period", sv ? json_object_new_uint64(s->period) : NULL);
        add(o, "present_bytes", sv ? json_object_new_uint64(total.present_bytes) : NULL);
        add(o, "off_home_bytes",
            sv ? json_object_new_uint64(total.present_bytes - total.local_bytes) : NULL);
        add(o, "vcpu_wait_ratio", sv ? wait_ratio_json(sv, -1) : NULL);
        add(o, "planned_migrate_bytes",
            json_object_new_uint64(sv && plan ? plan_migrate_bytes_vm(plan, vm->id) : 0));
        add(o, "guest_nodes", cells);
}

static struct json_object *vm_summary(struct daemon *d, const struct managed_vm *vm)
{
        struct json_object *o = json_object_new_object();
        struct timeline_point last;

        add(o, "name", str(vm->name));
        add(o, "id", json_object_new_uint64(vm->id));
        add(o, "pid", json_object_new_int(vm->model->pid));
        add(o, "qmp", str(vm->qmp_path));
        add(o, "source", str(vm->uuid ? "libvirt" : "qmp"));
        if (vm->uuid)
                add(o, "uuid", str(vm->uuid));
        add(o, "cells", json_object_new_int((int)vm->model->n_cells));
        add(o, "vcpus", json_object_new_int((int)vm->model->n_vcpus));
        add(o, "policy", policy_json(vm));
        if (managed_vm_timeline(vm, &last, 1) == 1 && last.locality >= 0)
                add(o, "locality_ratio", json_object_new_double(last.locality));
        else
                add(o, "locality_ratio", NULL);
        add(o, "bytes_migrated", json_object_new_uint64(vm->bytes_migrated));
        add_measurement(o, engine_last_snapshot(d->engine), vm, engine_last_plan(d->engine));
        return o;
}

/* The tunables in effect, as the engine and sampler hold them (not as the file says): what a
 * reload really changed. */
static struct json_object *settings_json(struct daemon *d)
{
        const struct policy_params *p = engine_params(d->engine);
        struct json_object *o = json_object_new_object();

        add(o, "sampler", str(d->config->sampler));
        add(o, "scan_window", json_object_new_uint64(sampler_window(d->sampler)));
        add(o, "imbalance_pct", json_object_new_uint64(p->imbalance_pct));
        add(o, "hysteresis_periods", json_object_new_uint64(p->hysteresis_periods));
        add(o, "host_migrate_rate", json_object_new_uint64(p->host_migrate_rate));
        add(o, "migrate_rate", json_object_new_uint64(p->vm_migrate_rate));
        return o;
}

static int cmd_status(void *userdata, struct json_object *args, bool may_write, struct json_object **ret,
                      char **ret_error)
{
        struct daemon *d = userdata;
        struct json_object *o = show_json_document(), *vms = json_object_new_array(),
                           *step = json_object_new_object(), *libvirt;
        bool enabled = false, connected = false;

        add(o, "version", str(VNUMAD_VERSION));
        add(o, "uptime_ns", json_object_new_uint64(daemon_now_ns() - d->start_ns));
        add(o, "period", json_object_new_uint64(d->period));
        add(o, "period_ms", json_object_new_uint64(d->config->period_ms));
        add(o, "dry_run", json_object_new_boolean(d->config->dry_run));
        add(o, "sampler", str(sampler_describe(d->sampler)));
        add(o, "settings", settings_json(d));
        add(o, "host_nodes", json_object_new_int((int)d->topo->n_nodes));
        add(o, "bytes_migrated", json_object_new_uint64(d->total_bytes_migrated));
        add(o, "actions_applied", json_object_new_uint64(d->total_actions));
        add(o, "actions_failed", json_object_new_uint64(d->total_failed_actions));
        add(step, "period", json_object_new_uint64(d->last_step.period));
        add(step, "plan_ns", json_object_new_uint64(d->last_step.plan_ns));
        add(step, "planned", json_object_new_uint64(d->last_step.n_planned));
        add(step, "applied", json_object_new_uint64(d->last_step.n_applied));
        add(step, "failed", json_object_new_uint64(d->last_step.n_failed));
        add(o, "last_period", step);
        libvirt = daemon_libvirt_status_json(d);
        add(o, "libvirt", libvirt);
        /* The VMs listed are those vnumad knows; libvirt's, while it is away, may be missing. */
        json_member_bool(libvirt, "enabled", &enabled);
        json_member_bool(libvirt, "connected", &connected);
        if (enabled && !connected)
                show_json_add_error(o, "libvirt",
                                    json_string_or(libvirt, "last_error", NULL) ?: "not connected");
        for (size_t i = 0; i < d->vms.n_vms; i++)
                json_object_array_add(vms, vm_summary(d, d->vms.vms[i]));
        add(o, "vms", vms);
        *ret = o;
        return 0;
}

/* The residency of vm's cells as the last period's snapshot has it (the sampler's per-chunk map
 * of each cell, kept up to date by its scan window), by kernel node id. NULL when the VM was
 * not in that snapshot (added since), its layout differs, or on ENOMEM. */
static struct residency *snapshot_residency(const struct snapshot *s, const struct managed_vm *vm)
{
        const struct snap_vm *sv = NULL;
        struct residency *res;

        /* Linear in the VMs, as the rest of the daemon's per-VM lookups. */
        for (unsigned i = 0; s && i < s->n_vms && !sv; i++)
                if (s->vms[i].id == vm->id)
                        sv = &s->vms[i];
        if (!sv || sv->n_cells != vm->model->n_cells)
                return NULL;
        res = calloc(sv->n_cells ?: 1, sizeof(*res));
        if (!res)
                return NULL;
        for (unsigned c = 0; c < sv->n_cells; c++) {
                for (unsigned pos = 0; pos < s->host.n_nodes; pos++) {
                        int id = s->host.node[pos].id;

                        if (id >= 0 && id < RESIDENCY_MAX_NODES)
                                res[c].node_bytes[id] = sv->cells[c].resident_bytes[pos];
                }
                res[c].not_present_bytes = sv->cells[c].not_present_bytes;
        }
        return res;
}

static bool snapshot_residency_known(const struct snapshot *s, const struct managed_vm *vm)
{
        return snapshot_vm(s, vm) != NULL;
}

/* How old the last reading is at now; null if the clock says it lies ahead. */
static struct json_object *snapshot_age(const struct daemon *d, uint64_t now)
{
        return now >= d->last_sense_ns ? json_object_new_uint64(now - d->last_sense_ns) : NULL;
}

/* show: what the last period measured, never a scan of guest RAM here (that is O(guest RAM), on
 * the one event loop, for any reader). Threads are read now: one small file per thread. */
static int build_show(struct daemon *d, const struct managed_vm *only, struct json_object **ret)
{
        struct json_object *doc, *domains;
        const struct snapshot *s = engine_last_snapshot(d->engine);
        uint64_t now = daemon_now_ns();
        int r;

        doc = show_json_document();
        domains = json_object_new_array();
        add(doc, "host", show_json_host(d->topo));
        for (size_t i = 0; i < d->vms.n_vms; i++) {
                struct managed_vm *vm = d->vms.vms[i];
                _cleanup_(vm_observation_freep) struct vm_observation *o = NULL;
                _cleanup_free_ struct residency *res = NULL;
                struct json_object *dom;
                bool sampled;

                if (only && vm != only)
                        continue;
                sampled = snapshot_residency_known(s, vm);
                if (sampled)
                        res = snapshot_residency(s, vm);
                else {
                        /* Not measured yet: nothing is known present. */
                        res = calloc(vm->model->n_cells ?: 1, sizeof(*res));
                        for (unsigned c = 0; res && c < vm->model->n_cells; c++)
                                res[c].not_present_bytes = vm->model->cells[c].size_bytes;
                }
                if (!res) {
                        json_object_put(domains);
                        json_object_put(doc);
                        return -ENOMEM;
                }
                r = vm_observe_with_residency(vm->model, d->topo, d->vms.procfs_root, res, &o);
                if (r < 0) {
                        /* Exited meanwhile (the next period drops it), or unreadable: said, not
                         * silently left out. */
                        _cleanup_free_ char *msg = NULL;

                        if (asprintf(&msg, "cannot read the placement of QEMU pid %d: %s",
                                     (int)vm->model->pid, strerror(-r)) < 0)
                                msg = NULL;
                        show_json_add_error(doc, vm->name, msg ?: strerror(-r));
                        continue;
                }
                dom = show_json_domain(o, d->topo, vm->qmp_path);
                /* Which period the memory figures are from, and how old they are; null before
                 * the VM's first period. */
                add(dom, "snapshot_period", sampled ? json_object_new_uint64(s->period) : NULL);
                add(dom, "snapshot_age_ns", sampled ? snapshot_age(d, now) : NULL);
                add(dom, "source", str(vm->uuid ? "libvirt" : "qmp"));
                if (vm->uuid)
                        add(dom, "uuid", str(vm->uuid));
                add(dom, "policy", policy_json(vm));
                json_object_array_add(domains, dom);
        }
        add(doc, "domains", domains);
        *ret = doc;
        return 0;
}

/* A cached document's snapshot ages, as of now. */
static void refresh_ages(const struct daemon *d, struct json_object *doc)
{
        struct json_object *domains = NULL, *period;
        uint64_t now = daemon_now_ns();

        if (!json_object_object_get_ex(doc, "domains", &domains))
                return;
        for (size_t i = 0; i < json_object_array_length(domains); i++) {
                struct json_object *dom = json_object_array_get_idx(domains, i);

                if (json_object_object_get_ex(dom, "snapshot_period", &period) && period)
                        add(dom, "snapshot_age_ns", snapshot_age(d, now));
        }
}

/* The whole document is built once per period (and again when a VM comes or goes or a policy
 * changes): 100 VMs' threads are 100 reads of /proc, too many for every client's every call. */
static int cmd_show(void *userdata, struct json_object *args, bool may_write, struct json_object **ret,
                    char **ret_error)
{
        struct daemon *d = userdata;
        struct managed_vm *only;
        const struct snapshot *s = engine_last_snapshot(d->engine);
        uint64_t key[4] = {s ? s->period + 1 : 0, d->vms.next_id, d->vms.n_vms, d->policy_changes};
        int r = want_domain(d, args, false, &only, ret_error);

        if (r < 0)
                return r;
        if (only)
                return build_show(d, only, ret);
        if (!d->show_cache || memcmp(key, d->show_cache_key, sizeof(key)) != 0) {
                struct json_object *doc;

                r = build_show(d, NULL, &doc);
                if (r < 0)
                        return r;
                json_object_put(d->show_cache);
                d->show_cache = doc;
                memcpy(d->show_cache_key, key, sizeof(key));
        } else
                refresh_ages(d, d->show_cache);
        *ret = json_object_get(d->show_cache);
        return 0;
}

static int cmd_topology(void *userdata, struct json_object *args, bool may_write, struct json_object **ret,
                        char **ret_error)
{
        struct daemon *d = userdata;
        struct json_object *o = show_json_document();

        add(o, "host", show_json_host(d->topo));
        *ret = o;
        return 0;
}

static struct json_object *action_json(const struct action *a, const struct host_topology *topo)
{
        struct json_object *o = json_object_new_object();
        char line[256];

        daemon_action_text(a, topo, line, sizeof(line));
        add(o, "type", str(action_type_to_string(a->type)));
        add(o, "cell", json_object_new_int(a->cell));
        add(o, "node", json_object_new_int(a->node_id));
        if (a->type == ACTION_MIGRATE) {
                add(o, "from_node", json_object_new_int(daemon_node_id(topo, a->from_node)));
                add(o, "bytes", json_object_new_uint64(a->bytes));
                add(o, "offset", json_object_new_uint64(a->offset));
        }
        if (a->type == ACTION_PIN_VCPUS)
                add(o, "vcpus", show_json_idset(&a->vcpus));
        if (a->type == ACTION_PIN_VCPUS || a->type == ACTION_PIN_EMULATOR)
                add(o, "cpus", show_json_idset(&a->cpus));
        add(o, "reason", str(a->reason));
        add(o, "text", str(line));
        return o;
}

/* rebalance: run a period now and report what it did for the VM. With dry_run, report what
 * the last period planned for it without running anything. */
static int cmd_rebalance(void *userdata, struct json_object *args, bool may_write, struct json_object **ret,
                         char **ret_error)
{
        struct daemon *d = userdata;
        struct managed_vm *vm;
        bool dry_run = false;
        const struct plan *plan;
        struct json_object *o, *actions;
        int r;

        if (json_member_bool(args, "dry_run", &dry_run) == -EBADMSG)
                return asprintf(ret_error, "\"dry_run\" must be a boolean") < 0 ? -ENOMEM : -EINVAL;
        /* Permission first: a read-only peer learns nothing from a change it may not make. */
        if (!dry_run && !may_write)
                return asprintf(ret_error, "permission denied: rebalance needs root (or use dry_run)") < 0
                               ? -ENOMEM
                               : -EPERM;
        r = want_domain(d, args, true, &vm, ret_error);
        if (r < 0)
                return r;
        if (!dry_run) {
                /* The period may drop and free the VM (its QEMU exited, its threads changed): only
                 * its id is kept across it, and the VM looked up again. */
                uint64_t id = vm->id;

                vm = NULL;
                r = daemon_run_period(d);
                if (r < 0)
                        return asprintf(ret_error, "the period failed: %s", strerror(-r)) < 0 ? -ENOMEM : r;
                vm = vm_manager_find(&d->vms, id);
                if (!vm)
                        return asprintf(ret_error, "the VM went away during the period") < 0 ? -ENOMEM
                                                                                             : -ENODEV;
        }
        plan = engine_last_plan(d->engine);
        o = show_json_document();
        actions = json_object_new_array();
        add(o, "name", str(vm->name));
        add(o, "period", json_object_new_uint64(d->period));
        add(o, "dry_run", json_object_new_boolean(dry_run || d->config->dry_run));
        for (size_t i = 0; plan && i < plan->n_actions; i++)
                if (plan->actions[i].vm_id == vm->id)
                        json_object_array_add(actions, action_json(&plan->actions[i], d->topo));
        add(o, "actions", actions);
        *ret = o;
        return 0;
}

static int cmd_policy_get(void *userdata, struct json_object *args, bool may_write, struct json_object **ret,
                          char **ret_error)
{
        struct daemon *d = userdata;
        struct managed_vm *vm;
        int r = want_domain(d, args, true, &vm, ret_error);

        if (r < 0)
                return r;
        /* The shape of vnumactl's answer from libvirt: the effective policy, or null and the
         * error when it is invalid (the VM is left untouched); no metadata text here. */
        *ret = show_json_document();
        add(*ret, "name", str(vm->name));
        add(*ret, "source", str(vm->policy_source));
        add(*ret, "xml", NULL);
        add(*ret, "policy", vm->policy_error ? NULL : show_json_policy(&vm->policy));
        add(*ret, "error", str(vm->policy_error));
        return 0;
}

static int cmd_explain(void *userdata, struct json_object *args, bool may_write, struct json_object **ret,
                       char **ret_error)
{
        struct daemon *d = userdata;
        struct history_entry h[DAEMON_EXPLAIN_MAX];
        struct timeline_point t[VM_TIMELINE_LEN];
        struct managed_vm *vm;
        struct json_object *o, *actions, *timeline;
        const struct snap_vm *sv;
        size_t n;
        unsigned nt;
        int r = want_domain(d, args, true, &vm, ret_error);

        if (r < 0)
                return r;
        n = engine_history(d->engine, vm->id, h, DAEMON_EXPLAIN_MAX);
        o = show_json_document();
        actions = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                struct json_object *a = action_json(&h[i].action, d->topo);
                add(a, "period", json_object_new_uint64(h[i].period));
                add(a, "result", json_object_new_int(h[i].result));
                json_object_array_add(actions, a);
        }
        timeline = json_object_new_array();
        nt = managed_vm_timeline(vm, t, VM_TIMELINE_LEN);
        for (unsigned i = 0; i < nt; i++) {
                struct json_object *p = json_object_new_object();
                add(p, "period", json_object_new_uint64(t[i].period));
                add(p, "locality_ratio", t[i].locality >= 0 ? json_object_new_double(t[i].locality) : NULL);
                add(p, "bytes_migrated", json_object_new_uint64(t[i].bytes_migrated));
                json_object_array_add(timeline, p);
        }
        add(o, "name", str(vm->name));
        add(o, "policy", policy_json(vm));
        /* The rate the budget uses: the policy's own, else vnumad's default (grown with the
         * VM's size when migrate-rate-max is set), as a value rather than "default". */
        sv = snapshot_vm(engine_last_snapshot(d->engine), vm);
        add(o, "migrate_rate_bytes",
            json_object_new_uint64(sv ? rule_vm_migrate_rate(engine_params(d->engine), sv)
                                 : vm->policy.migrate_rate ?: engine_params(d->engine)->vm_migrate_rate));
        /* The config's [policy] rate is copied into each VM's policy: the same value is the default. */
        add(o, "migrate_rate_source",
            str(vm->policy.migrate_rate &&
                                vm->policy.migrate_rate != engine_params(d->engine)->vm_migrate_rate
                        ? "policy"
                        : "default"));
        add(o, "actions", actions);
        add(o, "summary", daemon_explain_summary(h, n, d->topo));
        add(o, "timeline", timeline);
        *ret = o;
        return 0;
}

/* Prometheus text exposition (metrics.c), returned as a string. */
static int cmd_metrics(void *userdata, struct json_object *args, bool may_write, struct json_object **ret,
                       char **ret_error)
{
        _cleanup_free_ char *text = NULL;
        int r = daemon_metrics_text(userdata, &text);

        if (r < 0)
                return r;
        *ret = show_json_document();
        add(*ret, "text", json_object_new_string(text));
        return 0;
}

const struct control_command daemon_commands[] = {
        {"status", false, cmd_status},
        {"show", false, cmd_show},
        {"topology", false, cmd_topology},
        {"rebalance", false, cmd_rebalance}, /* checks write access itself unless dry_run */
        {"policy-get", false, cmd_policy_get},
        {"explain", false, cmd_explain},
        {"metrics", false, cmd_metrics},
        {"advise", false, daemon_cmd_advise},
};
const size_t daemon_n_commands = ELEMENTSOF(daemon_commands);
