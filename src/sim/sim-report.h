/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Output of vnumad-sim: the CSV, the summary table and the SVG plot. */

#include <stdio.h>

#include "vnuma/sim.h"

struct sim_row {
        uint64_t seed;
        unsigned nodes;
        unsigned vms;
        struct sim_result res;
};

int sim_csv_write(FILE *f, const struct sim_row *rows, size_t n);
/* Prints the per-size, per-policy table with medians and ratios against the baselines of the
 * same run; returns the number of missed targets for auto. */
int sim_table_print(FILE *f, const struct sim_row *rows, size_t n, const char *const *policies,
                    size_t n_policies);
/* Mean locality per period per policy over the rows of one size, as an SVG line chart. */
int sim_plot_svg(FILE *f, const struct sim_row *rows, size_t n, const char *const *policies,
                 size_t n_policies);
