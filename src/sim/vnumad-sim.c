/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumad-sim: run the policies and the baselines over seeded synthetic scenarios.
 *
 *   vnumad-sim --nodes N[,N..] --vms M[,M..] --seeds K [--policy NAME|all] [--csv PATH] [--plot PATH]
 *              [--periods P] [--seed-base S] [--dynamic] [--cells C] [--cpu-load L[,L..]]
 *              [--other-load F]
 *
 * --nodes and --vms are paired lists: "--nodes 2,4,8 --vms 10,50,200" runs three sizes. Each size runs
 * at every --cpu-load (vCPU demand over host CPUs; 1.5 is an overcommitted host). --other-load adds
 * host work beside the VMs on every node, as a share of its CPUs. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnuma/basic/log.h"
#include "vnuma/basic/parse-util.h"

#include "sim-report.h"

#define SIZES_MAX 16

static const char *const all_policies[] = {"auto", "none", "numad", "autonuma", "optimal"};

static int parse_list(const char *arg, unsigned *out, size_t *n)
{
        _cleanup_free_ char *copy = strdup(arg);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        *n = 0;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                int v, r = safe_atoi(tok, &v);
                if (r < 0 || v <= 0)
                        return -EINVAL;
                if (*n >= SIZES_MAX)
                        return -E2BIG;
                out[(*n)++] = (unsigned)v;
        }
        return *n > 0 ? 0 : -EINVAL;
}

/* A non-negative decimal number (positive unless zero_ok), all of s. */
static int parse_double(const char *s, bool zero_ok, double *ret)
{
        char *end = NULL;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0 || (v == 0 && !zero_ok))
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_loads(const char *arg, double *out, size_t *n)
{
        _cleanup_free_ char *copy = strdup(arg);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        *n = 0;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                double v;
                int r = parse_double(tok, false, &v);
                if (r < 0)
                        return r;
                if (*n >= SIZES_MAX)
                        return -E2BIG;
                out[(*n)++] = v;
        }
        return *n > 0 ? 0 : -EINVAL;
}

static void help(void)
{
        printf("Usage: vnumad-sim --nodes N[,N..] --vms M[,M..] [OPTIONS]\n"
               "\n"
               "Run vnumad's engine and policies on synthetic hosts and compare them with baselines.\n"
               "\n"
               "  --nodes N[,N..]        Host NUMA nodes of each size (required)\n"
               "  --vms M[,M..]          VMs of each size, as many as --nodes (required)\n"
               "  --seeds K              Scenarios per size and load (default 10)\n"
               "  --seed-base S          First seed (default 1)\n"
               "  --policy NAME|all      auto (and the other product policies), none, numad,\n"
               "                         autonuma, optimal, or all of them (default all)\n"
               "  --periods P            Periods per scenario (default 80)\n"
               "  --cpu-load L[,L..]     vCPU demand over host CPUs; every size runs at every\n"
               "                         load (default 0.6)\n"
               "  --other-load F         Host work beside the VMs, CPUs per CPU (default 0)\n"
               "  --cells C              Every VM has C cells, 1-4 (default: 1, 2 or 4 at random)\n"
               "  --dynamic              Phase changes, arrivals and departures\n"
               "  --csv PATH             Write every scenario's result as CSV\n"
               "  --plot PATH            Write an SVG plot of the results\n"
               "  -h, --help             Show this help\n"
               "\n"
               "See vnumad-sim(1).\n");
}

int main(int argc, char **argv)
{
        static const struct option options[] = {
                {"nodes", required_argument, NULL, 'n'},    {"vms", required_argument, NULL, 'm'},
                {"seeds", required_argument, NULL, 's'},    {"policy", required_argument, NULL, 'p'},
                {"csv", required_argument, NULL, 'c'},      {"plot", required_argument, NULL, 'g'},
                {"periods", required_argument, NULL, 't'},  {"seed-base", required_argument, NULL, 'b'},
                {"dynamic", no_argument, NULL, 'd'},        {"cells", required_argument, NULL, 'C'},
                {"cpu-load", required_argument, NULL, 'L'}, {"other-load", required_argument, NULL, 'O'},
                {"help", no_argument, NULL, 'h'},           {},
        };
        unsigned nodes[SIZES_MAX], vms[SIZES_MAX], seeds = 10, periods = 80, cells = 0;
        double loads[SIZES_MAX] = {0.6}, other_load = 0;
        size_t n_nodes = 0, n_vms = 0, n_loads = 1, n_rows = 0, n_policies;
        uint64_t seed_base = 1;
        const char *policy = "all", *csv = NULL, *plot = NULL;
        const char *const *policies;
        const char *one[1];
        bool dynamic = false;
        _cleanup_free_ struct sim_row *rows = NULL;
        int c, r, missed;

        log_set_program("vnumad-sim");
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                int v;
                switch (c) {
                case 'n':
                        if (parse_list(optarg, nodes, &n_nodes) < 0)
                                return log_error("--nodes: invalid list '%s'", optarg), 2;
                        break;
                case 'm':
                        if (parse_list(optarg, vms, &n_vms) < 0)
                                return log_error("--vms: invalid list '%s'", optarg), 2;
                        break;
                case 's':
                case 't':
                case 'C':
                        if (safe_atoi(optarg, &v) < 0 || v <= 0 || (c == 'C' && v > 4))
                                return log_error("--%s: invalid number '%s'",
                                                 c == 's'   ? "seeds"
                                                 : c == 't' ? "periods"
                                                            : "cells",
                                                 optarg),
                                       2;
                        *(c == 's' ? &seeds : c == 't' ? &periods : &cells) = (unsigned)v;
                        break;
                case 'b':
                        if (safe_atou64(optarg, &seed_base) < 0)
                                return log_error("--seed-base: invalid number '%s'", optarg), 2;
                        break;
                case 'L':
                        if (parse_loads(optarg, loads, &n_loads) < 0)
                                return log_error("--cpu-load: invalid list '%s'", optarg), 2;
                        break;
                case 'O':
                        if (parse_double(optarg, true, &other_load) < 0)
                                return log_error("--other-load: invalid number '%s'", optarg), 2;
                        break;
                case 'p':
                        policy = optarg;
                        break;
                case 'c':
                        csv = optarg;
                        break;
                case 'g':
                        plot = optarg;
                        break;
                case 'd':
                        dynamic = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return 2;
                }
        }
        if (n_nodes == 0 || n_vms == 0 || n_nodes != n_vms) {
                log_error("--nodes and --vms are required and must list the same number of sizes");
                return 2;
        }
        for (size_t k = 0; k < n_nodes; k++)
                if (nodes[k] > SNAP_NODES_MAX)
                        return log_error("--nodes: at most %d nodes", SNAP_NODES_MAX), 2;
        if (streq(policy, "all")) {
                policies = all_policies;
                n_policies = ELEMENTSOF(all_policies);
        } else {
                one[0] = policy;
                policies = one;
                n_policies = 1;
        }

        rows = calloc(n_nodes * n_loads * seeds * n_policies, sizeof(*rows));
        if (!rows)
                return log_error_errno(-ENOMEM, "Out of memory"), 1;
        for (size_t k = 0; k < n_nodes; k++)
                for (size_t l = 0; l < n_loads; l++)
                        for (unsigned s = 0; s < seeds; s++)
                                for (size_t p = 0; p < n_policies; p++) {
                                        struct sim_config cfg;
                                        struct sim_row *row = &rows[n_rows];

                                        sim_config_init(&cfg);
                                        cfg.n_nodes = nodes[k];
                                        cfg.n_vms = vms[k];
                                        cfg.seed = seed_base + s;
                                        cfg.periods = periods;
                                        cfg.dynamic = dynamic;
                                        cfg.cells = cells;
                                        cfg.cpu_load = loads[l];
                                        cfg.other_load = other_load;
                                        r = sim_run(&cfg, policies[p], &row->res);
                                        if (r < 0) {
                                                log_error_errno(r,
                                                                "Scenario seed %llu, %u nodes, %u VMs, CPU "
                                                                "load %.2f, policy %s failed: %s",
                                                                (unsigned long long)cfg.seed, cfg.n_nodes,
                                                                cfg.n_vms, cfg.cpu_load, policies[p],
                                                                strerror(-r));
                                                goto finish;
                                        }
                                        row->seed = cfg.seed;
                                        row->nodes = cfg.n_nodes;
                                        row->vms = cfg.n_vms;
                                        row->cpu_load = cfg.cpu_load;
                                        n_rows++;
                                }

        missed = sim_table_print(stdout, rows, n_rows, policies, n_policies);
        if (csv) {
                _cleanup_fclose_ FILE *f = fopen(csv, "we");
                if (!f || sim_csv_write(f, rows, n_rows) < 0) {
                        r = log_error_errno(negative_errno(), "Cannot write CSV %s", csv);
                        goto finish;
                }
        }
        if (plot) {
                _cleanup_fclose_ FILE *f = fopen(plot, "we");
                if (!f || sim_plot_svg(f, rows, n_rows, policies, n_policies) < 0) {
                        r = log_error_errno(negative_errno(), "Cannot write plot %s", plot);
                        goto finish;
                }
        }
        printf("\n%d target(s) missed\n", missed);
        r = 0;
finish:
        for (size_t i = 0; i < n_rows; i++)
                sim_result_done(&rows[i].res);
        return r < 0 ? 1 : 0;
}
