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

int daemon_call(const struct daemon_client_opts *o, const char *command, struct json_object *args,
                struct json_object **ret)
{
        _cleanup_(qmp_client_freep) struct qmp_client *c = NULL;
        int r;

        r = qmp_client_connect_unix(o->socket_path, o->timeout_ms, &c);
        if (r == -ENOENT || r == -ECONNREFUSED)
                return log_error_errno(r, "vnumad is not running (cannot connect to %s: %m).",
                                       o->socket_path);
        if (r == -EACCES || r == -EPERM)
                /* The socket is 0660 root:read-group: say which setting grants access. */
                return log_error_errno(r,
                                       "Cannot talk to vnumad at %s: %m. Run as root, or as a member "
                                       "of the group set by read-group= in vnumad.conf(5).",
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

static void print_action(struct json_object *a, uint64_t bytes, unsigned n)
{
        const char *type = json_string_or(a, "type", "?"), *reason = json_string_or(a, "reason", "");
        int64_t cell = json_int64_or(a, "cell", -1), node = json_int64_or(a, "node", -1);

        if (cell >= 0)
                printf("  cell %" PRIi64 ": ", cell);
        else
                printf("  whole VM: ");
        if (streq(type, "migrate"))
                printf("migrate %.1f MiB from node %" PRIi64 " to node %" PRIi64 " (%u chunk%s)",
                       (double)bytes / 1048576.0, json_int64_or(a, "from_node", -1), node, n,
                       n == 1 ? "" : "s");
        else if (streq(type, "pin-vcpus"))
                printf("pin vCPUs %s to node %" PRIi64 " (CPUs %s)", json_string_or(a, "vcpus", "?"), node,
                       json_string_or(a, "cpus", "?"));
        else if (streq(type, "pin-emulator"))
                printf("pin emulator threads to node %" PRIi64 " (CPUs %s)", node,
                       json_string_or(a, "cpus", "?"));
        else if (streq(type, "set-home"))
                printf("home node %" PRIi64, node);
        else
                printf("%s", type);
        printf("%s%s\n", *reason ? ": " : "", reason);
}

/* A plan's actions in words: kernel node ids, and a run of migrations of one cell between the
 * same nodes (one per chunk) as one line. */
static void print_actions(struct json_object *actions)
{
        size_t n = actions ? json_object_array_length(actions) : 0;

        for (size_t i = 0; i < n;) {
                struct json_object *a = json_object_array_get_idx(actions, i);
                uint64_t bytes = json_uint64_or(a, "bytes", 0);
                size_t j = i + 1;

                if (streq(json_string_or(a, "type", ""), "migrate"))
                        for (; j < n; j++) {
                                struct json_object *b = json_object_array_get_idx(actions, j);

                                if (!streq(json_string_or(b, "type", ""), "migrate") ||
                                    json_int64_or(b, "cell", -1) != json_int64_or(a, "cell", -1) ||
                                    json_int64_or(b, "from_node", -1) != json_int64_or(a, "from_node", -1) ||
                                    json_int64_or(b, "node", -1) != json_int64_or(a, "node", -1))
                                        break;
                                bytes += json_uint64_or(b, "bytes", 0);
                        }
                print_action(a, bytes, (unsigned)(j - i));
                i = j;
        }
}

void print_rebalance(struct json_object *ret)
{
        struct json_object *actions = NULL;
        bool dry = false;

        json_member_array(ret, "actions", &actions);
        json_member_bool(ret, "dry_run", &dry);
        printf("%s %s, period %" PRIu64 ": %zu actions%s\n", dry ? "Planned for" : "Rebalanced",
               json_string_or(ret, "name", "?"), json_uint64_or(ret, "period", 0),
               actions ? json_object_array_length(actions) : 0, dry ? " (dry run: nothing applied)" : "");
        print_actions(actions);
}

static void print_policy(struct json_object *p)
{
        printf("Mode:          %s\n", json_string_or(p, "mode", "?"));
        printf("Nodes:         %s\n",
               *json_string_or(p, "nodes", "") ? json_string_or(p, "nodes", "") : "all");
        printf("Pin:           %s\n", json_string_or(p, "pin", "?"));
        printf("Source:        %s\n", json_string_or(p, "source", "?"));
        if (json_string_or(p, "error", NULL))
                printf("ERROR:         %s (the VM is left untouched)\n", json_string_or(p, "error", ""));
}

static void print_explain(struct json_object *e)
{
        struct json_object *policy = NULL, *summary = NULL, *timeline = NULL;

        json_member_object(e, "policy", &policy);
        json_member_array(e, "summary", &summary);
        json_member_array(e, "timeline", &timeline);
        printf("VM %s\n", json_string_or(e, "name", "?"));
        print_policy(policy);
        /* The rate in effect, also when it is vnumad's default (the policy says 0 then). */
        printf("Migrate rate:  %.0f MiB/s (%s)\n",
               (double)json_uint64_or(e, "migrate_rate_bytes", 0) / 1048576.0,
               streq(json_string_or(e, "migrate_rate_source", ""), "policy") ? "the VM's policy"
                                                                             : "vnumad's default");
        printf("\nRecent actions, per cell and kind (oldest first):\n");
        if (!summary || json_object_array_length(summary) == 0)
                printf("  none\n");
        for (size_t i = 0; summary && i < json_object_array_length(summary); i++) {
                struct json_object *g = json_object_array_get_idx(summary, i);
                const char *reason = json_string_or(g, "reason", "");

                printf("  %s\n", json_string_or(g, "text", "?"));
                if (*reason)
                        printf("      why: %s\n", reason);
        }
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

        r = daemon_call(o, command, req, &ret);
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
        else if (streq(verb, "rebalance"))
                print_rebalance(ret);
        return streq(verb, "show") && want_args && n_errors > 0 ? -ENODEV : 0;
}
