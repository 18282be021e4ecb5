/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumactl advise: numad's -w interface, answered by the balancer's own model. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnuma/basic/json-util.h"
#include "vnuma/basic/log.h"
#include "vnuma/basic/parse-util.h"
#include "vnuma/config/daemon-config.h"
#include "vnuma/host/topology.h"
#include "vnuma/policies/policy-advise.h"
#include "vnuma/qmp/qmp.h"
#include "vnuma/report/show.h"
#include "vnuma/sampler/sampler.h"
#include "vnumactl-advise.h"

#define ADVISE_VCPUS_MAX     4096
#define ADVISE_MEM_MIB_MAX   (UINT64_C(1) << 32)
#define ADVISE_LOAD_INTERVAL UINT64_C(100000000) /* ns between the two /proc/stat readings */

int advise_parse_w(const char *text, unsigned *ret_vcpus, uint64_t *ret_mib)
{
        _cleanup_free_ char *copy = NULL;
        uint64_t vcpus, mib = 0;
        char *colon;

        if (!text || !*text)
                return -EINVAL;
        copy = strdup(text);
        if (!copy)
                return -ENOMEM;
        colon = strchr(copy, ':');
        if (colon)
                *colon = '\0';
        if (safe_atou64(copy, &vcpus) < 0 || vcpus == 0 || vcpus > ADVISE_VCPUS_MAX)
                return -EINVAL;
        if (colon && (safe_atou64(colon + 1, &mib) < 0 || mib > ADVISE_MEM_MIB_MAX))
                return -EINVAL;
        *ret_vcpus = (unsigned)vcpus;
        *ret_mib = mib;
        return 0;
}

/* 1 with *ret set (free it) when vnumad answered, 0 when there is no vnumad to ask (or it has not
 * run a period, or is too old to know "advise"), < 0 on a failure already logged. */
static int ask_daemon(const struct advise_opts *o, unsigned vcpus, uint64_t mib, char **ret)
{
        _cleanup_(qmp_client_freep) struct qmp_client *c = NULL;
        _cleanup_json_ struct json_object *args = NULL, *reply = NULL;
        const struct qmp_error *e;
        const char *set = NULL;
        int r;

        r = qmp_client_connect_unix(o->socket_path, o->timeout_ms, &c);
        if (r == -ENOENT || r == -ECONNREFUSED || r == -ENOTDIR) {
                log_debug("vnumad is not running (%s: %s); reading the host.", o->socket_path, strerror(-r));
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Cannot talk to vnumad at %s: %m", o->socket_path);
        args = json_object_new_object();
        if (!args)
                return log_error_errno(-ENOMEM, "Out of memory.");
        json_object_object_add(args, "vcpus", json_object_new_uint64(vcpus));
        json_object_object_add(args, "mem_mib", json_object_new_uint64(mib));
        r = qmp_client_execute(c, "advise", args, &reply);
        if (r < 0) {
                e = qmp_client_last_error(c);
                if (e && e->klass && streq(e->klass, "CommandNotFound")) {
                        log_debug("vnumad does not know \"advise\"; reading the host.");
                        return 0;
                }
                return log_error_errno(r, "vnumad: %s", qmp_client_error_message(c));
        }
        if (json_member_string(reply, "nodeset", &set) < 0 || !set) {
                log_debug("vnumad has not run a period yet; reading the host.");
                return 0;
        }
        *ret = strdup(set);
        return *ret ? 1 : log_error_errno(-ENOMEM, "Out of memory.");
}

static int ask_host(const struct advise_opts *o, unsigned vcpus, uint64_t mib, char **ret)
{
        _cleanup_(host_topology_freep) struct host_topology *topo = NULL;
        _cleanup_(snapshot_freep) struct snapshot *s = NULL;
        struct advise_request req = {.vcpus = vcpus, .mem_bytes = mib << 20};
        struct policy_params p;
        nodemask_t m;
        char set[256];
        int r;

        r = host_topology_read(o->sysfs_root, &topo);
        if (r < 0)
                return log_error_errno(r, "Cannot read the host NUMA topology below %s: %m", o->sysfs_root);
        r = snapshot_new(0, &s);
        if (r < 0)
                return log_error_errno(r, "Out of memory.");
        r = sampler_read_host_once(topo, o->sysfs_root, o->procfs_root, ADVISE_LOAD_INTERVAL, &s->host);
        if (r < 0)
                return log_error_errno(r, "Cannot read free memory and CPU load below %s and %s: %m",
                                       o->sysfs_root, o->procfs_root);
        s->period_ns = ADVISE_LOAD_INTERVAL;
        policy_params_init(&p);
        r = policy_advise_snapshot(s, &p, &req, &m);
        if (r == -ENOSPC)
                return log_error_errno(r, "No set of host nodes has %" PRIu64 " MiB free.", mib);
        if (r >= 0)
                r = policy_advise_format(&s->host, m, set, sizeof(set));
        if (r < 0)
                return log_error_errno(r, "Cannot compute the advice: %m");
        *ret = strdup(set);
        return *ret ? 0 : log_error_errno(-ENOMEM, "Out of memory.");
}

/* --json: {"schema_version", "errors", "vcpus", "mem_mib", "nodeset" (null on failure),
 * "source": "daemon" | "host" | null} (contrib/schema/advise.schema.json). */
static int print_json(unsigned vcpus, uint64_t mib, const char *set, const char *source, int error)
{
        _cleanup_json_ struct json_object *doc = show_json_document();

        if (!doc)
                return log_error_errno(-ENOMEM, "Out of memory.");
        json_object_object_add(doc, "vcpus", json_object_new_uint64(vcpus));
        json_object_object_add(doc, "mem_mib", json_object_new_uint64(mib));
        json_object_object_add(doc, "nodeset", set ? json_object_new_string(set) : NULL);
        json_object_object_add(doc, "source", source ? json_object_new_string(source) : NULL);
        if (error == -ENOSPC) {
                char msg[96];

                snprintf(msg, sizeof(msg), "no set of host nodes has %" PRIu64 " MiB free", mib);
                show_json_add_error(doc, "advise", msg);
        } else if (error < 0)
                show_json_add_error(doc, "advise", strerror(-error));
        printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

int advise_run(const struct advise_opts *o, unsigned vcpus, uint64_t mib)
{
        _cleanup_free_ char *set = NULL;
        const char *source = "daemon";
        int r;

        r = ask_daemon(o, vcpus, mib, &set);
        if (r == 0) {
                source = "host";
                r = ask_host(o, vcpus, mib, &set);
        }
        if (o->json)
                (void)print_json(vcpus, mib, r < 0 ? NULL : set, r < 0 ? NULL : source, r);
        else if (r >= 0)
                printf("%s\n", set);
        if (r < 0)
                return EXIT_FAILURE;
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

bool advise_requested(int argc, char *argv[])
{
        static const char *const with_value[] = {
                "--socket", "--sysfs-root", "--procfs-root", "--timeout", "--qmp", "--connect", "-c"};

        for (int i = 1; i < argc; i++) {
                bool skip = false;

                if (streq(argv[i], "--"))
                        return i + 1 < argc && streq(argv[i + 1], "advise");
                if (argv[i][0] != '-')
                        return streq(argv[i], "advise");
                for (size_t k = 0; k < ELEMENTSOF(with_value); k++)
                        if (streq(argv[i], with_value[k]))
                                skip = true;
                if (skip)
                        i++;
        }
        return false;
}

static void advise_help(void)
{
        printf("Usage: vnumactl [OPTIONS] advise -w VCPUS[:MEM_MB]\n"
               "\n"
               "Print the host NUMA nodes a guest of VCPUS vCPUs and MEM_MB MiB should start on, as\n"
               "numad -w does: vnumad answers from its last period; without vnumad, one reading of\n"
               "the host. Exit 0 with the nodeset on stdout, 1 on failure (numad's EXIT_FAILURE).\n"
               "\n"
               "  -w VCPUS[:MEM_MB]      The guest's vCPUs and memory in MiB\n"
               "  --socket PATH          vnumad control socket (default %s)\n"
               "  --timeout MS           Reply timeout (default %d)\n"
               "  --json                 One JSON document: the nodeset and who answered\n"
               "  --sysfs-root DIR       Read host topology below DIR (default /sys)\n"
               "  --procfs-root DIR      Read /proc/stat below DIR (default /proc)\n",
               VNUMAD_SOCKET_PATH, ADVISE_DEFAULT_TIMEOUT_MS);
}

int advise_main(int argc, char *argv[])
{
        enum { ARG_SOCKET = 0x100, ARG_SYSFS, ARG_PROCFS, ARG_TIMEOUT, ARG_JSON };
        static const struct option options[] = {
                {"socket", required_argument, NULL, ARG_SOCKET},
                {"sysfs-root", required_argument, NULL, ARG_SYSFS},
                {"procfs-root", required_argument, NULL, ARG_PROCFS},
                {"timeout", required_argument, NULL, ARG_TIMEOUT},
                {"json", no_argument, NULL, ARG_JSON},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        struct advise_opts o = ADVISE_OPTS_DEFAULT;
        const char *w = NULL;
        unsigned vcpus = 0;
        uint64_t mib = 0, v;
        int c;

        while ((c = getopt_long(argc, argv, "hw:", options, NULL)) >= 0)
                switch (c) {
                case 'w':
                        w = optarg;
                        break;
                case ARG_SOCKET:
                        o.socket_path = optarg;
                        break;
                case ARG_SYSFS:
                        o.sysfs_root = optarg;
                        break;
                case ARG_PROCFS:
                        o.procfs_root = optarg;
                        break;
                case ARG_JSON:
                        o.json = true;
                        break;
                case ARG_TIMEOUT:
                        if (safe_atou64(optarg, &v) < 0 || v == 0 || v > 3600000) {
                                log_error(
                                        "Invalid --timeout value \"%s\": expected milliseconds, 1-3600000.",
                                        optarg);
                                return EXIT_FAILURE;
                        }
                        o.timeout_ms = (int)v;
                        break;
                case 'h':
                        advise_help();
                        return EXIT_SUCCESS;
                default:
                        return EXIT_FAILURE;
                }
        for (int i = optind; i < argc; i++)
                if (!streq(argv[i], "advise") || i > optind) {
                        log_error("Unexpected argument \"%s\"; see vnumactl advise --help.", argv[i]);
                        return EXIT_FAILURE;
                }
        if (!w) {
                log_error("advise needs -w VCPUS[:MEM_MB]; see vnumactl advise --help.");
                return EXIT_FAILURE;
        }
        if (advise_parse_w(w, &vcpus, &mib) < 0) {
                log_error("Invalid -w value \"%s\": expected VCPUS[:MEM_MB], 1-%d vCPUs and at most %" PRIu64
                          " MiB.",
                          w, ADVISE_VCPUS_MAX, ADVISE_MEM_MIB_MAX);
                return EXIT_FAILURE;
        }
        return advise_run(&o, vcpus, mib);
}
