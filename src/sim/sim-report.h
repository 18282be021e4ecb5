/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Output of vnumad-sim: the CSV, the summary table and the SVG plot. */

#include <stdio.h>

#include "vnuma/sim/sim.h"

struct sim_row {
        uint64_t seed;
        unsigned nodes;
        unsigned vms;
        double cpu_load;
        struct sim_result res;
};

int sim_csv_write(FILE *f, const struct sim_row *rows, size_t n);
/* Prints the per-group (size and CPU load), per-policy table with medians and ratios against the
 * baselines of the same run, and auto's targets (locality/optimal >= 0.99, above every baseline,
 * bytes/LB <= 1.1, no ping-pong, median plan time <= 1 ms, throughput/optimal >= 0.98); returns the
 * number of missed targets. */
int sim_table_print(FILE *f, const struct sim_row *rows, size_t n, const char *const *policies,
                    size_t n_policies);
/* Mean locality per period per policy, one SVG line chart per group (stacked). */
int sim_plot_svg(FILE *f, const struct sim_row *rows, size_t n, const char *const *policies,
                 size_t n_policies);
