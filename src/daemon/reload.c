/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SIGHUP: the configuration read again and applied, all of it or nothing. The parts that may fail
 * (a new engine, a new sampler, the control socket's group) are made first; only when all of them
 * succeeded is anything of the running daemon changed. Settings that are read once at start keep
 * their running value, and the log says which of them changed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "vnuma/basic/event-loop.h"
#include "vnuma/basic/log.h"

/* A comma-separated list of setting names, cut (never overrun) if it ever grew too long. */
struct name_list {
        char text[256];
        size_t len;
};

static void name_list_add(struct name_list *l, const char *name)
{
        int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s%s", l->len ? ", " : "", name);

        if (n > 0)
                l->len = MIN(l->len + (size_t)n, sizeof(l->text) - 1);
}

static void swap_str(char **a, char **b)
{
        char *t = *a;

        *a = *b;
        *b = t;
}

/* Settings only read at start: the socket is bound, libvirt connected and the QMP directory
 * watched once. The new config takes the running values, so d->config stays what is in effect. */
static void keep_start_only(struct daemon_config *c, struct daemon_config *old, struct name_list *restart)
{
        if (!streq(c->socket_path, old->socket_path)) {
                name_list_add(restart, "socket");
                swap_str(&c->socket_path, &old->socket_path);
        }
        if (c->libvirt_enabled != old->libvirt_enabled) {
                name_list_add(restart, "[libvirt] enabled");
                c->libvirt_enabled = old->libvirt_enabled;
        }
        if (!streq_ptr(c->libvirt_uri, old->libvirt_uri)) {
                name_list_add(restart, "[libvirt] uri");
                swap_str(&c->libvirt_uri, &old->libvirt_uri);
        }
        if (!streq_ptr(c->qmp_dir, old->qmp_dir)) {
                name_list_add(restart, "[qmp] directory");
                swap_str(&c->qmp_dir, &old->qmp_dir);
        }
}

/* The engine and sampler settings that changed, for the log line. */
static void note_changes(const struct daemon_config *c, const struct daemon_config *old, struct name_list *l)
{
        if (c->period_ms != old->period_ms)
                name_list_add(l, "period");
        if (c->dry_run != old->dry_run)
                name_list_add(l, "dry-run");
        if (c->imbalance_pct != old->imbalance_pct)
                name_list_add(l, "imbalance-pct");
        if (c->hysteresis_periods != old->hysteresis_periods)
                name_list_add(l, "hysteresis-periods");
        if (c->host_migrate_rate != old->host_migrate_rate)
                name_list_add(l, "host-migrate-rate");
        if (c->default_policy.migrate_rate != old->default_policy.migrate_rate)
                name_list_add(l, "migrate-rate");
        if (!streq(c->sampler, old->sampler))
                name_list_add(l, "sampler");
        if (c->scan_window != old->scan_window)
                name_list_add(l, "scan-window");
        if (!streq_ptr(c->read_group, old->read_group))
                name_list_add(l, "read-group");
        if (!streq_ptr(c->metrics_textfile, old->metrics_textfile))
                name_list_add(l, "[metrics] textfile");
}

void daemon_reload(struct daemon *d)
{
        _cleanup_(daemon_config_freep) struct daemon_config *c = NULL;
        _cleanup_(engine_freep) struct engine *engine = NULL;
        _cleanup_(sampler_freep) struct sampler *sampler = NULL;
        _cleanup_free_ char *error = NULL;
        struct name_list restart = {}, changed = {};
        struct daemon_config *old = d->config;
        struct policy_params params;
        bool window_set = false;
        int r;

        r = daemon_config_load(d->args.config_path, NULL, &c, &error);
        if (r >= 0)
                r = daemon_apply_args(c, &d->args);
        if (r < 0) {
                log_error("Reload failed, keeping the running configuration: %s", error ?: strerror(-r));
                return;
        }
        keep_start_only(c, old, &restart);
        note_changes(c, old, &changed);

        /* Dry run is the engine's switch, and a plan made while nothing was applied is no state to
         * go on from: a new engine. Otherwise the engine keeps its per-VM state and takes the new
         * tunables below. */
        if (c->dry_run != old->dry_run) {
                r = daemon_new_engine(d, c, &engine);
                if (r < 0) {
                        log_error(
                                "Reload failed, keeping the running configuration: cannot build the engine "
                                "for dry-run=%s: %s",
                                c->dry_run ? "yes" : "no", strerror(-r));
                        return;
                }
        }
        /* Another sampler starts its chunk maps and counter baselines over; a new window only
         * changes how far the running one reads each period. */
        if (!streq(c->sampler, old->sampler)) {
                r = daemon_new_sampler(d, c, &sampler);
                if (r < 0) {
                        log_error("Reload failed, keeping the running configuration: sampler \"%s\": %s",
                                  c->sampler,
                                  r == -EOPNOTSUPP ? "not available on this host" : strerror(-r));
                        return;
                }
        } else if (c->scan_window != old->scan_window) {
                r = sampler_set_window(d->sampler, c->scan_window);
                if (r < 0) {
                        log_error("Reload failed, keeping the running configuration: scan-window %" PRIu64
                                  " bytes: %s",
                                  c->scan_window, strerror(-r));
                        return;
                }
                window_set = true;
        }
        /* The read group and the client limits; changes nothing when it fails. */
        r = control_server_reconfigure(d->control, c);
        if (r < 0) {
                if (window_set)
                        (void)sampler_set_window(d->sampler, old->scan_window); /* was valid */
                log_error("Reload failed, keeping the running configuration: cannot apply read-group \"%s\" "
                          "and the client limits to the control socket: %s",
                          strna(c->read_group), strerror(-r));
                return;
        }

        /* All built: nothing below fails. */
        d->config = TAKE_PTR(c);
        daemon_config_free(old);
        log_set_max_level(d->config->log_level);
        if (engine) {
                engine_free(d->engine);
                d->engine = TAKE_PTR(engine);
        } else {
                daemon_policy_params(d->config, &params);
                engine_set_params(d->engine, &params);
        }
        if (sampler) {
                sampler_free(d->sampler);
                d->sampler = TAKE_PTR(sampler);
        }
        d->vms.qmp_timeout_ms = (int)d->config->query_timeout_ms;
        for (size_t i = 0; i < d->vms.n_vms; i++)
                daemon_update_policy(d, d->vms.vms[i]);
        event_loop_update_timer(d->period_timer, (int)d->config->period_ms);
        d->rescan = true;

        if (restart.len > 0)
                log_warning("Changed on reload, needs a restart: %s; these keep their running values.",
                            restart.text);
        log_info("Configuration reloaded (%zu VMs, period %" PRIu64 " ms%s, sampler %s%s%s).", d->vms.n_vms,
                 d->config->period_ms, d->config->dry_run ? ", dry run" : "", sampler_describe(d->sampler),
                 changed.len ? "; changed: " : "", changed.text);
}
