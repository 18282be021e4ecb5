/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actuator-internal.h"
#include "actuator-units.h"
#include "vnuma/basic/string-table.h"
#include "vnuma/host/cgroup-systemd.h"
#include "vnuma/host/residency.h"

static const char *const actuator_kind_table[_ACTUATOR_KIND_MAX] = {
        [ACTUATOR_DIRECT] = "direct",
};

DEFINE_STRING_TABLE_LOOKUP(actuator_kind, enum actuator_kind);

void actuator_config_init(struct actuator_config *c)
{
        *c = (struct actuator_config){
                .kind = ACTUATOR_DIRECT,
                .retries = ACTUATOR_RETRIES_DEFAULT,
        };
}

static int real_setaffinity(pid_t tid, const cpu_set_t *mask)
{
        return sched_setaffinity(tid, sizeof(*mask), mask) < 0 ? negative_errno() : 0;
}

static int strdup_or(const char *s, const char *fallback, char **ret)
{
        *ret = strdup(s && *s ? s : fallback);
        return *ret ? 0 : -ENOMEM;
}

int actuator_new(const struct actuator_config *cfg, struct actuator **ret)
{
        _cleanup_(actuator_freep) struct actuator *a = NULL;
        int r;

        if (!cfg || !ret || actuator_kind_to_string(cfg->kind) == NULL)
                return -EINVAL;
        if (cfg->state_dir && cfg->state_dir[0] != '/')
                return -EINVAL;
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->kind = cfg->kind;
        a->batch_pages = cfg->batch_pages ?: RESIDENCY_BATCH_PAGES;
        a->retries = cfg->retries;
        a->setaffinity = real_setaffinity;
        a->unit_set = systemd_unit_set_allowed;
        a->unit_get = systemd_unit_get_allowed;
        a->keep = cfg->record_keep ?: ACTUATOR_RECORD_KEEP_DEFAULT;
        if ((r = strdup_or(cfg->procfs_root, "/proc", &a->procfs_root)) < 0 ||
            (r = strdup_or(cfg->sysfs_root, "/sys", &a->sysfs_root)) < 0 ||
            (r = strdup_or(cfg->state_dir, ACTUATOR_STATE_DIR_DEFAULT, &a->state_dir)) < 0)
                return r;
        a->lines = calloc(a->keep, sizeof(*a->lines));
        if (!a->lines)
                return -ENOMEM;
        *ret = TAKE_PTR(a);
        return 0;
}

struct actuator *actuator_free(struct actuator *a)
{
        if (!a)
                return NULL;
        actuator_vm_states_free(a);
        actuator_undo_free(a);
        free(a->lines);
        free(a->procfs_root);
        free(a->sysfs_root);
        free(a->state_dir);
        free(a);
        return NULL;
}

enum actuator_kind actuator_get_kind(const struct actuator *a)
{
        return a->kind;
}

static void record(struct actuator *a, const struct action *act, const char *what, int r)
{
        char *dst = a->lines[a->next];
        char outcome[64];

        if (r < 0)
                snprintf(outcome, sizeof(outcome), "error: %s", strerror(-r));
        else
                snprintf(outcome, sizeof(outcome), "%s", r > 0 ? "partial" : "ok");
        snprintf(dst, ACTUATOR_LINE_MAX, "%s vm %" PRIu64 " cell %d: %s: %s",
                 strna(action_type_to_string(act->type)), act->vm_id, act->cell, what, outcome);
        a->next = (a->next + 1) % a->keep;
        if (a->n_kept < a->keep)
                a->n_kept++;
        a->total++;
}

int actuator_apply(struct actuator *a, const struct snapshot *s, const struct action *act,
                   const struct actuator_vm *vm, struct actuator_result *result)
{
        struct actuator_result res = {};
        char what[ACTUATOR_LINE_MAX] = "";
        int r;

        if (!a || !act)
                return -EINVAL;
        if (!vm || !vm->model || vm->id != act->vm_id || vm->model->pid <= 0) {
                r = -EINVAL;
                snprintf(what, sizeof(what), "no guest model for this VM");
        } else
                switch (act->type) {
                case ACTION_PIN_VCPUS:
                case ACTION_PIN_EMULATOR:
                        r = actuator_pin(a, act, vm->model, &res, what, sizeof(what));
                        break;
                case ACTION_MIGRATE:
                        r = actuator_migrate(a, act, vm->model, &res, what, sizeof(what));
                        break;
                case ACTION_SET_HOME:
                        /* The home is the policy's bookkeeping; pins and migrations carry it out. */
                        snprintf(what, sizeof(what), "home node %d (bookkeeping only)", act->node_id);
                        r = 0;
                        break;
                case ACTION_SET_REGION_POLICY:
                        r = actuator_region_policy(a, s, act, vm, &res, what, sizeof(what));
                        break;
                default:
                        snprintf(what, sizeof(what), "unknown action type %d", (int)act->type);
                        r = -EINVAL;
                }
        record(a, act, what, r);
        if (result)
                *result = res;
        return r;
}

int actuator_forget_vm(struct actuator *a, uint64_t vm_id)
{
        struct actuator_vm_state *st = actuator_vm_state_find(a, vm_id);
        bool had = st && st->unit_set;
        int r = 0;

        if (!st)
                return 0;
        if (had)
                r = actuator_undo_add(a, st->unit, &st->set_cpus, &st->set_mems, st->pid);
        actuator_vm_state_remove(a, st);
        if (r < 0 || !had)
                return r;
        /* Lifted at once where possible: the VM may be placed again in this very period. */
        return actuator_undo_run(a, NULL) > 0 ? -EAGAIN : 0;
}

int actuator_tick(struct actuator *a, char **ret_message)
{
        return actuator_undo_run(a, ret_message);
}

size_t actuator_recorded(const struct actuator *a, const char **lines, size_t n)
{
        size_t first = (a->next + a->keep - a->n_kept) % a->keep, count = MIN(n, a->n_kept);

        /* The newest count lines, oldest first. */
        for (size_t i = 0; i < count; i++)
                lines[i] = a->lines[(first + a->n_kept - count + i) % a->keep];
        return count;
}

uint64_t actuator_recorded_total(const struct actuator *a)
{
        return a->total;
}
