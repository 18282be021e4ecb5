/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumad's command line: options, --help, and how flags override the configuration file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "vnuma/basic/log.h"

static void help(void)
{
        printf("Usage: vnumad [OPTIONS]\n"
               "\n"
               "Keep every guest NUMA cell of QEMU/KVM guests on one host NUMA node.\n"
               "\n"
               "  --config FILE        Configuration file (default %s)\n"
               "  --check-config       Check the configuration and exit: 0 if valid, 1 with\n"
               "                       FILE:LINE: PROBLEM on stderr if not\n"
               "  --socket PATH        Control socket (default %s)\n"
               "  --qmp PATH           Manage the QEMU behind this QMP socket (repeatable)\n"
               "  --qmp-dir DIR        Manage every QMP socket that appears in DIR\n"
               "  --libvirt-uri URI    Manage the running domains of this libvirt (default %s)\n"
               "  --no-libvirt         Do not use libvirt\n"
               "  --period MS          Length of a period in milliseconds (default %d)\n"
               "  --dry-run            Plan and report, change nothing\n"
               "  --foreground         Do not detach; log to stderr\n"
               "  --log-level LEVEL    err, warning, notice, info or debug\n"
               "  --sysfs-root DIR     Read the host topology below DIR (default /sys; tests)\n"
               "  --procfs-root DIR    Read processes below DIR (default /proc; tests)\n"
               "  -h, --help           Show this help\n"
               "  --version            Show the version\n"
               "\n"
               "See vnumad(8) and vnumad.conf(5).\n",
               VNUMAD_CONFIG_FILE, VNUMAD_SOCKET_PATH, LIBVIRT_URI_DEFAULT, VNUMAD_DEFAULT_PERIOD_MS);
}

int daemon_parse_argv(int argc, char *argv[], struct daemon_args *a)
{
        enum {
                ARG_CONFIG = 0x100,
                ARG_CHECK_CONFIG,
                ARG_SOCKET,
                ARG_QMP,
                ARG_QMP_DIR,
                ARG_PERIOD,
                ARG_DRY_RUN,
                ARG_FOREGROUND,
                ARG_LOG_LEVEL,
                ARG_VERSION,
                ARG_SYSFS,
                ARG_PROCFS,
                ARG_LIBVIRT_URI,
                ARG_NO_LIBVIRT,
        };
        static const struct option options[] = {
                {"config", required_argument, NULL, ARG_CONFIG},
                {"check-config", no_argument, NULL, ARG_CHECK_CONFIG},
                {"socket", required_argument, NULL, ARG_SOCKET},
                {"qmp", required_argument, NULL, ARG_QMP},
                {"qmp-dir", required_argument, NULL, ARG_QMP_DIR},
                {"period", required_argument, NULL, ARG_PERIOD},
                {"dry-run", no_argument, NULL, ARG_DRY_RUN},
                {"foreground", no_argument, NULL, ARG_FOREGROUND},
                {"log-level", required_argument, NULL, ARG_LOG_LEVEL},
                {"libvirt-uri", required_argument, NULL, ARG_LIBVIRT_URI},
                {"no-libvirt", no_argument, NULL, ARG_NO_LIBVIRT},
                {"sysfs-root", required_argument, NULL, ARG_SYSFS},
                {"procfs-root", required_argument, NULL, ARG_PROCFS},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {},
        };
        int c;

        a->dry_run = -1;
        a->log_level = -1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_CONFIG:
                        a->config_path = optarg;
                        break;
                case ARG_CHECK_CONFIG:
                        a->check_config = true;
                        break;
                case ARG_SOCKET:
                        a->socket_path = optarg;
                        break;
                case ARG_QMP: {
                        const char **n = realloc(a->qmp, (a->n_qmp + 1) * sizeof(*n));
                        if (!n)
                                return log_error_errno(-ENOMEM, "Out of memory.");
                        a->qmp = n;
                        a->qmp[a->n_qmp++] = optarg;
                        break;
                }
                case ARG_QMP_DIR:
                        a->qmp_dir = optarg;
                        break;
                case ARG_PERIOD:
                        if (parse_duration_ms(optarg, &a->period_ms) < 0 || a->period_ms < 10 ||
                            a->period_ms > 3600000)
                                return log_error_errno(-EINVAL, "Invalid --period \"%s\": 10ms to 1h.",
                                                       optarg);
                        break;
                case ARG_DRY_RUN:
                        a->dry_run = 1;
                        break;
                case ARG_FOREGROUND:
                        a->foreground = true;
                        break;
                case ARG_LOG_LEVEL:
                        a->log_level = log_level_from_string(optarg);
                        if (a->log_level < 0)
                                return log_error_errno(-EINVAL, "Unknown --log-level \"%s\".", optarg);
                        break;
                case ARG_LIBVIRT_URI:
                        if (!strstr(optarg, ":/"))
                                return log_error_errno(
                                        -EINVAL,
                                        "Invalid --libvirt-uri \"%s\": expected a libvirt URI "
                                        "such as qemu:///system.",
                                        optarg);
                        a->libvirt_uri = optarg;
                        break;
                case ARG_NO_LIBVIRT:
                        a->no_libvirt = true;
                        break;
                case ARG_SYSFS:
                        a->sysfs_root = optarg;
                        break;
                case ARG_PROCFS:
                        a->procfs_root = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("vnumad %s\n", VNUMAD_VERSION);
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(-EINVAL, "Unexpected argument \"%s\"; see vnumad --help.",
                                       argv[optind]);
        return 1;
}

/* Flags win over the file. */
int daemon_apply_args(struct daemon_config *c, const struct daemon_args *a)
{
        if (a->socket_path && !(c->socket_path = (free(c->socket_path), strdup(a->socket_path))))
                return -ENOMEM;
        if (a->qmp_dir && !(c->qmp_dir = (free(c->qmp_dir), strdup(a->qmp_dir))))
                return -ENOMEM;
        if (a->n_qmp) {
                char **n = realloc(c->qmp_sockets, (c->n_qmp_sockets + a->n_qmp) * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                c->qmp_sockets = n;
                for (unsigned i = 0; i < a->n_qmp; i++)
                        if (!(c->qmp_sockets[c->n_qmp_sockets++] = strdup(a->qmp[i])))
                                return -ENOMEM;
        }
        if (a->libvirt_uri && !(c->libvirt_uri = (free(c->libvirt_uri), strdup(a->libvirt_uri))))
                return -ENOMEM;
        if (a->no_libvirt)
                c->libvirt_enabled = false;
        if (a->dry_run >= 0)
                c->dry_run = a->dry_run;
        if (a->period_ms)
                c->period_ms = a->period_ms;
        if (a->log_level >= 0)
                c->log_level = a->log_level;
        return 0;
}
