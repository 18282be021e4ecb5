/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumactl: show where guest NUMA cells and vCPUs sit on the host. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnuma/basic/error-message.h"
#include "vnuma/basic/json-util.h"
#include "vnuma/basic/log.h"
#include "vnuma/basic/string-sanitize.h"
#include "vnuma/config/daemon-config.h"
#include "vnuma/host/topology.h"
#include "vnuma/libvirt/libvirt-conn.h"
#include "vnuma/qemu/guest-query.h"
#include "vnuma/qmp/qmp.h"
#include "vnuma/report/observe.h"
#include "vnuma/report/show.h"
#include "vnumactl-advise.h"
#include "vnumactl-daemon.h"
#include "vnumactl-live.h"
#include "vnumactl-policy.h"
#include "vnumactl-print.h"

#define MAX_QMP 64

static struct {
        bool json;
        bool dry_run;
        const char *socket_path;
        const char *qmp[MAX_QMP];
        unsigned n_qmp;
        const char *sysfs_root;
        const char *procfs_root;
        int timeout_ms;
        const char *timeout; /* as given: milliseconds per reply, or seconds with wait */
        const char *uri;
        bool config, live;
        bool wait;
        double delay_s;
        unsigned iterations;
        const char *sort;
        double locality;
        bool top_opts, locality_given; /* given, so checked against the verb */
} arg = {
        .socket_path = VNUMAD_SOCKET_PATH,
        .sysfs_root = "/sys",
        .procfs_root = "/proc",
        .timeout_ms = -1, /* per verb: QEMU answers at once; the daemon may be mid-period */
        .delay_s = 2.0,
        .locality = 0.95,
};

/* A daemon request waits for the period in progress, and `show` scans guest RAM. */
#define DAEMON_TIMEOUT_MS 60000

static int qmp_timeout(void)
{
        return arg.timeout_ms > 0 ? arg.timeout_ms : QMP_DEFAULT_TIMEOUT_MS;
}

static void help(void)
{
        printf("Usage: vnumactl [OPTIONS] COMMAND [ARGS]\n"
               "\n"
               "Show and steer where guest NUMA cells and vCPU threads sit on the host.\n"
               "\n"
               "Commands that read QEMU directly (no daemon needed):\n"
               "  show --qmp PATH...     Residency per guest cell and host node, vCPU placement\n"
               "  topology               Host NUMA nodes, CPUs, memory and distances\n"
               "\n"
               "Commands that ask the vnumad daemon:\n"
               "  status                 Daemon state, sampler, managed VMs and their locality\n"
               "  show [VM]              Like show --qmp, for the VMs vnumad manages\n"
               "  rebalance [--dry-run] VM  Run a period now (dry run: what the last one planned)\n"
               "  rebalance --wait VM    ... and follow its migration until nothing is off home\n"
               "  policy get VM          The VM's effective policy and where it comes from\n"
               "  policy set VM KEY=VALUE... [--config|--live]\n"
               "                         Write a libvirt domain's <vnumad:policy> metadata: mode=,\n"
               "                         nodes=, pin=, migrate-rate=, cell=ID:NODES (repeatable)\n"
               "  policy clear VM        Remove it; vnumad's configured default applies\n"
               "  explain VM             Recent actions per cell with their reasons, locality timeline\n"
               "  metrics                Prometheus text format (--json: the text in a document)\n"
               "  top [VM...]            Refreshing view of the VMs: locality, off-home MiB, MiB/s\n"
               "                         moved, vCPU wait, policy (keys on a terminal; q quits)\n"
               "  wait VM...             Until every VM reaches --locality: exit 0, 1 on --timeout\n"
               "  advise -w VCPUS[:MEM_MB]  Nodes a new guest should start on (numad -w; no daemon:\n"
               "                         one reading of the host)\n"
               "\n"
               "Options:\n"
               "  --qmp PATH             QEMU QMP socket (repeatable)\n"
               "  --socket PATH          vnumad control socket (default %s)\n"
               "  --json                 One JSON document, for every command: schema_version,\n"
               "                         errors[], stable keys, base units (contrib/schema/)\n"
               "  --dry-run              With rebalance: change nothing\n"
               "  -c, --connect URI      libvirt URI for policy (default $LIBVIRT_DEFAULT_URI or %s)\n"
               "  --config, --live       policy set/clear/get: the persistent or the running domain\n"
               "  --timeout MS           Reply timeout (default %d for QEMU, %d for vnumad); with wait\n"
               "                         and rebalance --wait: SECONDS to wait in all (default: no limit)\n"
               "  --wait                 With rebalance: follow the migration (MiB moved, rate, ETA)\n"
               "  --locality RATIO       With wait: the locality to reach, 0-1 (default 0.95)\n"
               "  -d, --delay SECONDS    With top: between refreshes (default 2)\n"
               "  -n, --iterations N     With top: refresh N times, then exit (default: until q)\n"
               "  -s, --sort KEY         With top: locality (default: worst first), off-home, rate,\n"
               "                         wait or name\n"
               "  --sysfs-root DIR       Read host topology below DIR (default /sys)\n"
               "  --procfs-root DIR      Read process state below DIR (default /proc)\n"
               "  -h, --help             Show this help\n"
               "  --version              Show the version\n"
               "\n"
               "Exit status: 0 success, 1 failure (a part could not be read, the daemon or\n"
               "libvirt refused or is unreachable, an invalid policy), 2 usage error.\n"
               "See vnumactl(8).\n",
               VNUMAD_SOCKET_PATH, LIBVIRT_URI_DEFAULT, QMP_DEFAULT_TIMEOUT_MS, DAEMON_TIMEOUT_MS);
}

/* A decimal number in [min, max]; -EINVAL otherwise (NaN and inf included). */
static int parse_number(const char *s, double min, double max, double *ret)
{
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || *end || !(v >= min && v <= max))
                return -EINVAL;
        *ret = v;
        return 0;
}

/* --timeout: milliseconds per reply, or with wait and rebalance --wait the seconds to wait in
 * all. */
static int check_timeout(bool waits, double *ret_wait_s)
{
        double v;

        *ret_wait_s = 0;
        if (!arg.timeout)
                return 0;
        if (waits) {
                if (parse_number(arg.timeout, 0.001, 31536000, &v) < 0) {
                        log_error("Invalid --timeout value \"%s\": with wait, seconds (0.001-31536000).",
                                  arg.timeout);
                        return -EINVAL;
                }
                *ret_wait_s = v;
                return 0;
        }
        if (parse_number(arg.timeout, 1, 3600000, &v) < 0 || v != (int)v) {
                log_error("Invalid --timeout value \"%s\": expected milliseconds, 1-3600000.", arg.timeout);
                return -EINVAL;
        }
        arg.timeout_ms = (int)v;
        return 0;
}

static int parse_argv(int argc, char *argv[])
{
        enum {
                ARG_QMP = 0x100,
                ARG_JSON,
                ARG_TIMEOUT,
                ARG_SYSFS,
                ARG_PROCFS,
                ARG_VERSION,
                ARG_SOCKET,
                ARG_DRY_RUN,
                ARG_CONFIG,
                ARG_LIVE,
                ARG_WAIT,
                ARG_LOCALITY,
        };
        static const struct option options[] = {
                {"qmp", required_argument, NULL, ARG_QMP},
                {"json", no_argument, NULL, ARG_JSON},
                {"socket", required_argument, NULL, ARG_SOCKET},
                {"dry-run", no_argument, NULL, ARG_DRY_RUN},
                {"connect", required_argument, NULL, 'c'},
                {"config", no_argument, NULL, ARG_CONFIG},
                {"live", no_argument, NULL, ARG_LIVE},
                {"timeout", required_argument, NULL, ARG_TIMEOUT},
                {"wait", no_argument, NULL, ARG_WAIT},
                {"locality", required_argument, NULL, ARG_LOCALITY},
                {"delay", required_argument, NULL, 'd'},
                {"iterations", required_argument, NULL, 'n'},
                {"sort", required_argument, NULL, 's'},
                {"sysfs-root", required_argument, NULL, ARG_SYSFS},
                {"procfs-root", required_argument, NULL, ARG_PROCFS},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {},
        };
        int c;

        /* getopt's own messages would start with argv[0], a path: ours start "vnumactl:". */
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hc:d:n:s:", options, NULL)) >= 0)
                switch (c) {
                case ':':
                        log_error("Option \"%s\" needs an argument; see vnumactl --help.", argv[optind - 1]);
                        return -EINVAL;
                case '?':
                        if (optopt)
                                log_error("Unknown option \"-%c\"; see vnumactl --help.", optopt);
                        else
                                log_error("Unknown option \"%s\"; see vnumactl --help.", argv[optind - 1]);
                        return -EINVAL;
                case ARG_QMP:
                        if (arg.n_qmp >= MAX_QMP) {
                                log_error("Too many --qmp sockets (at most %d).", MAX_QMP);
                                return -EINVAL;
                        }
                        arg.qmp[arg.n_qmp++] = optarg;
                        break;
                case ARG_JSON:
                        arg.json = true;
                        break;
                case ARG_SOCKET:
                        arg.socket_path = optarg;
                        break;
                case ARG_DRY_RUN:
                        arg.dry_run = true;
                        break;
                case 'c':
                        arg.uri = optarg;
                        break;
                case ARG_CONFIG:
                        arg.config = true;
                        break;
                case ARG_LIVE:
                        arg.live = true;
                        break;
                case ARG_TIMEOUT:
                        /* Its unit depends on the verb: checked once the verb is known. */
                        arg.timeout = optarg;
                        break;
                case ARG_WAIT:
                        arg.wait = true;
                        break;
                case ARG_LOCALITY:
                        if (parse_number(optarg, 0, 1, &arg.locality) < 0) {
                                log_error("Invalid --locality value \"%s\": expected a ratio, 0-1 (0.95 is "
                                          "95 %%).",
                                          optarg);
                                return -EINVAL;
                        }
                        arg.locality_given = true;
                        break;
                case 'd':
                        if (parse_number(optarg, 0.1, 3600, &arg.delay_s) < 0) {
                                log_error("Invalid --delay value \"%s\": expected seconds, 0.1-3600.",
                                          optarg);
                                return -EINVAL;
                        }
                        arg.top_opts = true;
                        break;
                case 'n': {
                        double v;

                        if (parse_number(optarg, 1, 1000000, &v) < 0 || v != (unsigned)v) {
                                log_error("Invalid --iterations value \"%s\": expected a count, 1-1000000.",
                                          optarg);
                                return -EINVAL;
                        }
                        arg.iterations = (unsigned)v;
                        arg.top_opts = true;
                        break;
                }
                case 's':
                        if (!live_sort_key_valid(optarg)) {
                                log_error("Invalid --sort key \"%s\": expected one of: %s.", optarg,
                                          live_sort_keys);
                                return -EINVAL;
                        }
                        arg.sort = optarg;
                        arg.top_opts = true;
                        break;
                case ARG_SYSFS:
                        arg.sysfs_root = optarg;
                        break;
                case ARG_PROCFS:
                        arg.procfs_root = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("vnumactl %s\n", VNUMAD_VERSION);
                        return 0;
                default:
                        return -EINVAL;
                }
        return 1;
}

/* A VM without -name is called after its socket: "/run/vm1.qmp" -> "vm1". */
static char *name_from_socket(const char *path)
{
        const char *base = strrchr(path, '/');
        char *name = strdup(base ? base + 1 : path), *dot;

        if (name && (dot = strrchr(name, '.')) && dot != name)
                *dot = '\0';
        return name;
}

/* One guest into domains; on failure *ret_error says why (without the path, which the caller
 * names). */
static int observe_one(const char *path, const struct host_topology *topo, struct json_object *domains,
                       char **ret_error)
{
        _cleanup_(qmp_client_freep) struct qmp_client *qmp = NULL;
        _cleanup_(guest_model_freep) struct guest_model *m = NULL;
        _cleanup_(vm_observation_freep) struct vm_observation *o = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        r = qmp_client_connect_unix(path, qmp_timeout(), &qmp);
        if (r == -EPROTO || r == -EBADMSG)
                return error_message(ret_error, r, "the peer does not speak QMP (no QMP greeting)");
        if (r == -ETIMEDOUT)
                return error_message(ret_error, r,
                                     "no QMP greeting within %d ms (is another client connected? "
                                     "QEMU serves one QMP client at a time)",
                                     qmp_timeout());
        if (r < 0)
                return error_message(ret_error, r, "cannot connect to QMP: %s", strerror(-r));
        r = guest_model_query(qmp, arg.procfs_root, &m, &error);
        if (r < 0)
                return error_message(ret_error, r, "cannot learn the guest layout: %s",
                                     error ?: strerror(-r));
        if (m->name) {
                /* QEMU's -name: shown only, printable and cut. */
                char *shown = NULL;
                if (string_sanitize(m->name, DISPLAY_NAME_MAX, &shown) < 0)
                        return -ENOMEM;
                free(m->name);
                m->name = shown;
        } else {
                m->name = name_from_socket(path);
                if (!m->name)
                        return -ENOMEM;
        }
        r = vm_observe(m, topo, arg.procfs_root, &o);
        if (r < 0)
                return error_message(ret_error, r, "cannot read the placement of QEMU pid %d: %s",
                                     (int)m->pid, strerror(-r));

        json_object_array_add(domains, show_json_domain(o, topo, path));
        return 0;
}

static int cmd_show_qmp(const struct host_topology *topo)
{
        _cleanup_json_ struct json_object *doc = NULL;
        struct json_object *domains;
        int ret = 0;

        doc = show_json_document();
        domains = json_object_new_array();
        if (!doc || !domains) {
                json_object_put(domains);
                return log_error_errno(-ENOMEM, "Out of memory.");
        }
        json_object_object_add(doc, "host", show_json_host(topo));
        json_object_object_add(doc, "domains", domains);

        /* A socket that fails is logged and listed in "errors"; the others are still shown. */
        for (unsigned i = 0; i < arg.n_qmp; i++) {
                _cleanup_free_ char *error = NULL;
                int r = observe_one(arg.qmp[i], topo, domains, &error);

                if (r < 0) {
                        log_error_errno(r, "%s: %s", arg.qmp[i], error ?: strerror(-r));
                        show_json_add_error(doc, arg.qmp[i], error ?: strerror(-r));
                        ret = r;
                }
        }
        if (arg.json)
                print_doc(doc);
        else
                print_show_tables(doc);
        return ret;
}

static int cmd_topology(const struct host_topology *topo)
{
        char buf[4096];

        if (arg.json) {
                _cleanup_json_ struct json_object *doc = show_json_document();

                if (!doc)
                        return log_error_errno(-ENOMEM, "Out of memory.");
                json_object_object_add(doc, "host", show_json_host(topo));
                print_doc(doc);
                return 0;
        }
        printf("%4s  %-16s  %12s  %12s  Distances\n", "Node", "CPUs", "Total MiB", "Free MiB");
        for (unsigned i = 0; i < topo->n_nodes; i++) {
                const struct host_node *n = &topo->nodes[i];
                if (idset_format(&n->cpus, buf, sizeof(buf)) < 0)
                        snprintf(buf, sizeof(buf), "?");
                printf("%4d  %-16s  %12.1f  %12.1f ", n->id, buf[0] ? buf : "(memory only)",
                       (double)n->mem_total_bytes / 1048576.0, (double)n->mem_free_bytes / 1048576.0);
                for (unsigned j = 0; j < topo->n_nodes; j++)
                        printf(" %3d", topo->distance[i * topo->n_nodes + j]);
                putchar('\n');
        }
        return 0;
}

int main(int argc, char *argv[])
{
        _cleanup_(host_topology_freep) struct host_topology *topo = NULL;
        const char *verb;
        char **rest;
        int n_rest, r;

        log_set_program("vnumactl");
        log_set_console(true);
        (void)print_filter_stdout();
        if (advise_requested(argc, argv))
                return advise_main(argc, argv); /* numad's -w: options and exit codes of its own */
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        if (optind >= argc) {
                log_error("Missing command; see vnumactl --help.");
                return 2;
        }
        verb = argv[optind];
        rest = argv + optind + 1;
        n_rest = argc - optind - 1;

        /* Options of one verb given to another are usage errors, not silently ignored. */
        if (arg.top_opts && !streq(verb, "top")) {
                log_error("-d/--delay, -n/--iterations and -s/--sort go with top; see vnumactl --help.");
                return 2;
        }
        if (arg.locality_given && !streq(verb, "wait")) {
                log_error("--locality goes with wait; see vnumactl --help.");
                return 2;
        }
        if (arg.wait && !streq(verb, "rebalance")) {
                log_error("--wait goes with rebalance; see vnumactl --help.");
                return 2;
        }
        if (arg.wait && arg.dry_run) {
                log_error("rebalance: --wait and --dry-run exclude each other (a dry run moves nothing).");
                return 2;
        }
        double wait_s;
        if (check_timeout(streq(verb, "wait") || arg.wait, &wait_s) < 0)
                return 2;

        if (streq(verb, "topology") || (streq(verb, "show") && arg.n_qmp > 0)) {
                if (n_rest > 0) {
                        log_error("Unexpected argument \"%s\"; see vnumactl --help.", rest[0]);
                        return 2;
                }
                r = host_topology_read(arg.sysfs_root, &topo);
                if (r < 0) {
                        log_error_errno(r, "Cannot read the host NUMA topology below %s: %m",
                                        arg.sysfs_root);
                        return 1;
                }
                r = streq(verb, "show") ? cmd_show_qmp(topo) : cmd_topology(topo);
                return r < 0 ? 1 : 0;
        }
        if (streq(verb, "policy")) {
                struct policy_opts po = {
                        .uri = arg.uri,
                        .sysfs_root = arg.sysfs_root,
                        .config = arg.config,
                        .live = arg.live,
                        .json = arg.json,
                        .argv = argv,
                };
                bool ask_daemon = false;

                r = policy_verb(&po, rest, n_rest, &ask_daemon);
                if (!ask_daemon)
                        return r == -EINVAL ? 2 : r < 0 ? 1 : 0;
        }
        struct daemon_client_opts opts = {
                .socket_path = arg.socket_path,
                .timeout_ms = arg.timeout_ms > 0 ? arg.timeout_ms : DAEMON_TIMEOUT_MS,
                .json = arg.json,
                .dry_run = arg.dry_run,
        };
        struct live_opts lo = {
                .daemon = &opts,
                .delay_s = arg.delay_s,
                .iterations = arg.iterations,
                .sort = arg.sort,
                .locality = arg.locality,
                .timeout_s = wait_s,
        };
        if (streq(verb, "top"))
                r = live_top(&lo, rest, n_rest);
        else if (streq(verb, "wait"))
                r = live_wait(&lo, rest, n_rest);
        else if (streq(verb, "rebalance") && arg.wait)
                r = live_rebalance_wait(&lo, rest, n_rest);
        else
                r = daemon_verb(&opts, verb, rest, n_rest);
        return r == -EINVAL ? 2 : r < 0 ? 1 : 0;
}
