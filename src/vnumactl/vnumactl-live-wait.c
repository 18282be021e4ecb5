/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumactl's live views that wait. wait: until VMs reach a locality (chronyc waitsync's);
 * rebalance --wait: a rebalance followed until nothing is left off home. */
#include "vnumactl-live-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "vnuma/basic/json-util.h"
#include "vnuma/basic/log.h"
#include "vnuma/basic/string-sanitize.h"
#include "vnuma/report/show.h"
#include "vnumactl-print.h"

/* ---- wait ---- */

int live_wait(const struct live_opts *o, char **args, int n_args)
{
        _cleanup_json_ struct json_object *st = NULL, *doc = NULL;
        bool tty = isatty(STDOUT_FILENO) && !o->daemon->json, done = false, shown = false;
        double start = live_now_s(), elapsed;
        char line[1024];
        int r;

        if (n_args == 0) {
                log_error("wait: expected one or more VM names.");
                return -EINVAL;
        }
        for (;;) {
                size_t len = 0;

                json_object_put(st);
                st = NULL;
                r = live_get_status(o, &st);
                if (r < 0) {
                        if (shown)
                                putchar('\n');
                        return r;
                }
                elapsed = live_now_s() - start;
                done = true;
                len = (size_t)snprintf(line, sizeof(line),
                                       "Waiting for locality >= %.1f %%:", o->locality * 100.0);
                for (int i = 0; i < n_args; i++) {
                        struct json_object *vm = live_find_vm(st, args[i]);
                        double loc = live_num(vm, "locality_ratio");
                        char pct[16];

                        live_fmt_pct(pct, sizeof(pct), loc);
                        done = done && vm && !isnan(loc) && loc >= o->locality;
                        if (len < sizeof(line))
                                len += (size_t)snprintf(line + len, sizeof(line) - len, " %s %s", args[i],
                                                        !vm          ? "(not managed)"
                                                        : isnan(loc) ? "(not measured)"
                                                                     : pct);
                }
                if (done || (o->timeout_s > 0 && elapsed >= o->timeout_s))
                        break;
                if (tty) {
                        if (len < sizeof(line))
                                snprintf(line + len, sizeof(line) - len, "  %.0f s", elapsed);
                        live_write_terminal("\r", line, "\033[K");
                        shown = true;
                }
                live_pause_for(o->timeout_s > 0 ? MIN(live_poll_interval_s(st), o->timeout_s - elapsed)
                                                : live_poll_interval_s(st),
                               false);
        }
        if (shown)
                putchar('\n');

        doc = show_json_document();
        if (!doc)
                return log_error_errno(-ENOMEM, "Out of memory.");
        struct json_object *vms = json_object_new_array(), *errors = NULL;
        json_member_array(doc, "errors", &errors);
        json_object_object_add(doc, "locality_target", json_object_new_double(o->locality));
        json_object_object_add(doc, "timeout_ns",
                               o->timeout_s > 0 ? json_object_new_uint64((uint64_t)(o->timeout_s * 1e9))
                                                : NULL);
        json_object_object_add(doc, "elapsed_ns", json_object_new_uint64((uint64_t)(elapsed * 1e9)));
        json_object_object_add(doc, "reached", json_object_new_boolean(done));
        for (int i = 0; i < n_args; i++) {
                struct json_object *vm = live_find_vm(st, args[i]), *v = json_object_new_object();
                double loc = live_num(vm, "locality_ratio");
                bool reached = vm && !isnan(loc) && loc >= o->locality;
                char msg[256], pct[16];

                live_fmt_pct(pct, sizeof(pct), loc);
                json_object_object_add(v, "name", json_object_new_string(args[i]));
                json_object_object_add(v, "managed", json_object_new_boolean(vm != NULL));
                json_object_object_add(v, "locality_ratio", live_num_json(loc));
                json_object_object_add(v, "reached", json_object_new_boolean(reached));
                json_object_array_add(vms, v);
                if (reached)
                        continue;
                if (!vm)
                        snprintf(msg, sizeof(msg), "not managed by vnumad after %.0f s", elapsed);
                else if (isnan(loc))
                        snprintf(msg, sizeof(msg), "locality not measured after %.0f s", elapsed);
                else
                        snprintf(msg, sizeof(msg), "locality %s %% < %.1f %% after %.0f s", pct,
                                 o->locality * 100.0, elapsed);
                show_json_add_error(doc, args[i], msg);
                log_error("%s: %s", args[i], msg);
        }
        json_object_object_add(doc, "vms", vms);
        if (o->daemon->json)
                print_doc(doc);
        else if (tty && done)
                printf("Locality >= %.1f %% reached by %s%s in %.0f s.\n", o->locality * 100.0, args[0],
                       n_args > 1 ? " and the others" : "", elapsed);
        return done ? 0 : -ETIME;
}

/* ---- rebalance --wait ---- */

static bool gathers_cells(const char *mode)
{
        /* observe and off move nothing; interleave spreads a cell on purpose. */
        return !streq(mode, "observe") && !streq(mode, "off") && !streq(mode, "interleave");
}

int live_rebalance_wait(const struct live_opts *o, char **args, int n_args)
{
        _cleanup_json_ struct json_object *st = NULL, *req = NULL, *reb = NULL;
        bool tty = isatty(STDOUT_FILENO) && !o->daemon->json, done = false, dry = false, shown = false;
        double start, elapsed = 0, moved = 0, left = NAN, rate = 0;
        uint64_t start_migrated, last_period = UINT64_MAX, quiet_period = UINT64_MAX, quiet_migrated = 0;
        unsigned quiet = 0, settle;
        struct json_object *vm, *w;
        _cleanup_free_ char *mode = NULL; /* a copy: st, which holds the string, is replaced below */
        const char *name;
        char line[512];
        int r;

        if (n_args != 1) {
                log_error("rebalance: expected one VM name.");
                return -EINVAL;
        }
        name = args[0];
        r = live_get_status(o, &st);
        if (r < 0)
                return r;
        vm = live_find_vm(st, name);
        if (!vm)
                return log_error_errno(-ENODEV, "No VM named \"%s\" is managed.", name);
        start_migrated = json_uint64_or(vm, "bytes_migrated", 0);
        mode = strdup(live_vm_mode(vm));
        if (!mode)
                return log_error_errno(-ENOMEM, "Out of memory.");

        req = json_object_new_object();
        if (!req)
                return log_error_errno(-ENOMEM, "Out of memory.");
        json_object_object_add(req, "domain", json_object_new_string(name));
        r = daemon_call(o->daemon, "rebalance", req, &reb);
        if (r < 0)
                return r;
        print_errors(reb);
        if (!o->daemon->json)
                print_rebalance(reb);
        fflush(stdout);
        json_member_bool(reb, "dry_run", &dry);
        start = live_now_s();

        if (dry)
                r = log_error_errno(-EOPNOTSUPP,
                                    "vnumad runs with dry-run: nothing moves, nothing to wait for.");
        else if (!gathers_cells(mode)) {
                /* Not an error: the policy wants nothing gathered. */
                if (!o->daemon->json)
                        printf("%s: policy mode %s does not gather cells on their home nodes: nothing to "
                               "wait "
                               "for.\n",
                               name, mode);
                done = true;
        }
        while (r == 0 && !done) {
                json_object_put(st);
                st = NULL;
                r = live_get_status(o, &st);
                if (r < 0)
                        break;
                vm = live_find_vm(st, name);
                if (!vm) {
                        r = log_error_errno(-ENODEV, "%s is no longer managed (its QEMU exited?).", name);
                        break;
                }
                elapsed = live_now_s() - start;
                /* A VM dropped and added again starts counting anew. */
                if (json_uint64_or(vm, "bytes_migrated", 0) < start_migrated)
                        start_migrated = 0;
                moved = (double)(json_uint64_or(vm, "bytes_migrated", 0) - start_migrated);
                left = live_num(vm, "off_home_bytes");
                rate = elapsed > 0 ? moved / elapsed : 0;
                /* Nothing left to move: nothing off home; or what is left stays, by the policy's
                 * own word: periods measured after the rebalance in which it planned no
                 * migration for the VM and none happened, more of them than its hysteresis. */
                settle = (unsigned)json_uint64_or(json_object_object_get(st, "settings"),
                                                  "hysteresis_periods", 3) +
                         2;
                if (json_uint64_or(vm, "snapshot_period", 0) > json_uint64_or(reb, "period", 0) &&
                    json_uint64_or(vm, "snapshot_period", 0) != quiet_period) {
                        bool still = json_uint64_or(vm, "planned_migrate_bytes", 1) == 0 &&
                                     json_uint64_or(vm, "bytes_migrated", 0) == quiet_migrated;

                        quiet = still ? quiet + 1 : 0;
                        quiet_period = json_uint64_or(vm, "snapshot_period", 0);
                        quiet_migrated = json_uint64_or(vm, "bytes_migrated", 0);
                }
                /* Only a measurement made after the rebalance's actions (its pins move homes) says
                 * what is left. */
                done = json_uint64_or(vm, "snapshot_period", 0) > json_uint64_or(reb, "period", 0) &&
                       (left == 0 || (!isnan(left) && quiet >= settle));
                if (isnan(left))
                        snprintf(line, sizeof(line), "%s: %.1f MiB moved, off-home bytes not measured yet",
                                 name, moved / 1048576.0);
                else if (rate > 0)
                        snprintf(line, sizeof(line), "%s: %.1f of %.1f MiB moved, %.1f MiB/s, ETA %.0f s",
                                 name, moved / 1048576.0, (moved + left) / 1048576.0, rate / 1048576.0,
                                 left / rate);
                else
                        snprintf(line, sizeof(line), "%s: %.1f of %.1f MiB moved, %.1f MiB/s", name,
                                 moved / 1048576.0, (moved + left) / 1048576.0, rate / 1048576.0);
                if (tty) {
                        live_write_terminal("\r", line, "\033[K");
                        shown = true;
                } else if (!o->daemon->json &&
                           json_uint64_or(vm, "snapshot_period", UINT64_MAX) != last_period) {
                        /* Piped: one plain line per period measured. */
                        last_period = json_uint64_or(vm, "snapshot_period", UINT64_MAX);
                        printf("period %" PRIu64 ": %s\n", json_uint64_or(st, "period", 0), line);
                        fflush(stdout);
                }
                if (done)
                        break;
                if (o->timeout_s > 0 && elapsed >= o->timeout_s) {
                        r = -ETIME;
                        break;
                }
                live_pause_for(o->timeout_s > 0 ? MIN(live_poll_interval_s(st), o->timeout_s - elapsed)
                                                : live_poll_interval_s(st),
                               false);
        }
        if (shown)
                putchar('\n');
        if (r == -ETIME)
                log_error("%s: %.1f MiB still off home after %.0f s (%.1f MiB moved).", name,
                          left / 1048576.0, elapsed, moved / 1048576.0);
        else if (r == 0 && !o->daemon->json && gathers_cells(mode) && left == 0)
                printf("%s: nothing left to move: %.1f MiB moved in %.0f s.\n", name, moved / 1048576.0,
                       elapsed);
        else if (r == 0 && !o->daemon->json && gathers_cells(mode))
                printf("%s: nothing left to move: %.1f MiB moved in %.0f s; %.1f MiB stays off home (vnumad "
                       "planned no migration for %u periods).\n",
                       name, moved / 1048576.0, elapsed, left / 1048576.0, quiet);
        if (o->daemon->json) {
                w = json_object_new_object();
                json_object_object_add(w, "done", json_object_new_boolean(r == 0 && done));
                json_object_object_add(w, "elapsed_ns", json_object_new_uint64((uint64_t)(elapsed * 1e9)));
                json_object_object_add(w, "bytes_moved", json_object_new_uint64((uint64_t)moved));
                json_object_object_add(w, "off_home_bytes", live_bytes_json(left));
                json_object_object_add(w, "bytes_per_second", json_object_new_double(rate));
                json_object_object_add(reb, "wait", w);
                if (r == -ETIME) {
                        snprintf(line, sizeof(line), "%.0f bytes still off home after %.0f s", left,
                                 elapsed);
                        show_json_add_error(reb, name, line);
                }
                print_doc(reb);
        }
        return r;
}
