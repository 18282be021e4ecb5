/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumactl's commands that ask vnumad, over its QMP-shaped control socket. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vnuma/basic/json-util.h"
#include "vnuma/basic/log.h"
#include "vnuma/qmp/qmp.h"
#include "vnuma/report/show.h"
#include "vnumactl-daemon.h"
#include "vnumactl-print.h"

static int call(const struct daemon_client_opts *o, const char *command, struct json_object *args,
                struct json_object **ret)
{
        _cleanup_(qmp_client_freep) struct qmp_client *c = NULL;
        int r;

        r = qmp_client_connect_unix(o->socket_path, o->timeout_ms, &c);
        if (r == -ENOENT || r == -ECONNREFUSED)
                return log_error_errno(r, "vnumad is not running (cannot connect to %s: %m).",
                                       o->socket_path);
        if (r < 0)
                return log_error_errno(r, "Cannot talk to vnumad at %s: %m", o->socket_path);
        r = qmp_client_execute(c, command, args, ret);
        if (r < 0)
                /* The daemon's refusal is not a usage error of vnumactl: exit status 1. */
                return log_error_errno(r == -EINVAL ? -EBADMSG : r, "%s", qmp_client_error_message(c));
        return 0;
}

static void print_status(struct json_object *st)
{
        struct json_object *vms = NULL, *last = NULL;
        bool dry = false;

        json_member_bool(st, "dry_run", &dry);
        json_member_object(st, "last_period", &last);
        json_member_array(st, "vms", &vms);
        printf("vnumad %s, up %.0f s, period %" PRIu64 " (every %" PRIu64 " ms)%s\n",
               json_string_or(st, "version", "?"), (double)json_uint64_or(st, "uptime_ns", 0) / 1e9,
               json_uint64_or(st, "period", 0), json_uint64_or(st, "period_ms", 0), dry ? ", DRY RUN" : "");
        printf("Sampler: %s   Host nodes: %" PRIu64 "\n", json_string_or(st, "sampler", "?"),
               json_uint64_or(st, "host_nodes", 0));
        printf("Actions: %" PRIu64 " applied, %" PRIu64 " failed; %.1f MiB migrated; last plan %.3f ms\n\n",
               json_uint64_or(st, "actions_applied", 0), json_uint64_or(st, "actions_failed", 0),
               (double)json_uint64_or(st, "bytes_migrated", 0) / 1048576.0,
               (double)json_uint64_or(last, "plan_ns", 0) / 1e6);
        printf("%-20s  %8s  %5s  %5s  %-10s  %9s  %12s  %s\n", "VM", "PID", "Cells", "vCPUs", "Policy",
               "Local %", "Migrated MiB", "Notes");
        for (size_t i = 0; vms && i < json_object_array_length(vms); i++) {
                struct json_object *vm = json_object_array_get_idx(vms, i), *policy = NULL;
                char p[16];

                json_member_object(vm, "policy", &policy);
                show_format_ratio(vm, p, sizeof(p));
                printf("%-20s  %8" PRIu64 "  %5" PRIu64 "  %5" PRIu64 "  %-10s  %9s  %12.1f  %s\n",
                       json_string_or(vm, "name", "?"), json_uint64_or(vm, "pid", 0),
                       json_uint64_or(vm, "cells", 0), json_uint64_or(vm, "vcpus", 0),
                       json_string_or(policy, "mode", "?"), p,
                       (double)json_uint64_or(vm, "bytes_migrated", 0) / 1048576.0,
                       json_string_or(policy, "error", ""));
        }
}

static void print_actions(struct json_object *actions)
{
        for (size_t i = 0; actions && i < json_object_array_length(actions); i++) {
                struct json_object *a = json_object_array_get_idx(actions, i);
                int64_t period = json_int64_or(a, "period", -1); /* explain has it, rebalance not */

                if (period >= 0)
                        printf("  period %6" PRIi64 "  ", period);
                else
                        printf("  ");
                printf("%s\n", json_string_or(a, "text", json_string_or(a, "type", "?")));
        }
}

static void print_policy(struct json_object *p)
{
        printf("Mode:          %s\n", json_string_or(p, "mode", "?"));
        printf("Nodes:         %s\n",
               *json_string_or(p, "nodes", "") ? json_string_or(p, "nodes", "") : "all");
        printf("Pin:           %s\n", json_string_or(p, "pin", "?"));
        printf("Migrate rate:  %.0f MiB/s\n",
               (double)json_uint64_or(p, "migrate_rate_bytes", 0) / 1048576.0);
        printf("Source:        %s\n", json_string_or(p, "source", "?"));
        if (json_string_or(p, "error", NULL))
                printf("ERROR:         %s (the VM is left untouched)\n", json_string_or(p, "error", ""));
}

static void print_explain(struct json_object *e)
{
        struct json_object *policy = NULL, *actions = NULL, *timeline = NULL;

        json_member_object(e, "policy", &policy);
        json_member_array(e, "actions", &actions);
        json_member_array(e, "timeline", &timeline);
        printf("VM %s\n", json_string_or(e, "name", "?"));
        print_policy(policy);
        printf("\nRecent actions (oldest first):\n");
        if (!actions || json_object_array_length(actions) == 0)
                printf("  none\n");
        print_actions(actions);
        printf("\nLocality timeline (period: local %%):\n");
        for (size_t i = 0; timeline && i < json_object_array_length(timeline); i++) {
                struct json_object *t = json_object_array_get_idx(timeline, i);
                char p[16];
                show_format_ratio(t, p, sizeof(p));
                printf("  %6" PRIu64 ": %6s%s", json_uint64_or(t, "period", 0), p,
                       (i + 1) % 6 == 0 ? "\n" : "");
        }
        putchar('\n');
}

int daemon_verb(const struct daemon_client_opts *o, const char *verb, char **args, int n_args)
{
        _cleanup_json_ struct json_object *req = json_object_new_object(), *ret = NULL;
        const char *command = verb;
        size_t n_errors;
        int want_args = 0, r;

        if (streq(verb, "status") || streq(verb, "metrics"))
                want_args = 0;
        else if (streq(verb, "show"))
                want_args = n_args > 0 ? 1 : 0;
        else if (streq(verb, "rebalance") || streq(verb, "explain"))
                want_args = 1;
        else if (streq(verb, "policy")) {
                if (n_args < 1 || !streq(args[0], "get")) {
                        log_error("Usage: vnumactl policy get VM");
                        return -EINVAL;
                }
                command = "policy-get";
                args++;
                n_args--;
                want_args = 1;
        } else {
                log_error("Unknown command \"%s\"; see vnumactl --help.", verb);
                return -EINVAL;
        }
        if (n_args != want_args) {
                log_error("%s: expected %s.", verb, want_args ? "one VM name" : "no arguments");
                return -EINVAL;
        }
        if (want_args)
                json_object_object_add(req, "domain", json_object_new_string(args[0]));
        if (streq(verb, "rebalance") && o->dry_run)
                json_object_object_add(req, "dry_run", json_object_new_boolean(true));

        r = call(o, command, req, &ret);
        if (r < 0)
                return r;
        /* A part the daemon could not read (a VM, libvirt) is in "errors": said on stderr too. A
         * VM asked for by name that could not be shown fails the command. */
        n_errors = print_errors(ret);
        if (o->json) {
                print_doc(ret);
                return streq(verb, "show") && want_args && n_errors > 0 ? -ENODEV : 0;
        }
        if (streq(verb, "status"))
                print_status(ret);
        else if (streq(verb, "show"))
                print_show_tables(ret);
        else if (streq(verb, "metrics"))
                fputs(json_string_or(ret, "text", ""), stdout);
        else if (streq(command, "policy-get"))
                print_policy_get(ret);
        else if (streq(verb, "explain"))
                print_explain(ret);
        else if (streq(verb, "rebalance")) {
                struct json_object *actions = NULL;
                bool dry = false;
                json_member_array(ret, "actions", &actions);
                json_member_bool(ret, "dry_run", &dry);
                printf("%s %s, period %" PRIu64 ": %zu actions%s\n", dry ? "Planned for" : "Rebalanced",
                       json_string_or(ret, "name", "?"), json_uint64_or(ret, "period", 0),
                       actions ? json_object_array_length(actions) : 0,
                       dry ? " (dry run: nothing applied)" : "");
                print_actions(actions);
        }
        return streq(verb, "show") && want_args && n_errors > 0 ? -ENODEV : 0;
}
