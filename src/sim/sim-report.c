/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int sim_csv_write(FILE *f, const struct sim_row *rows, size_t n)
{
        fprintf(f, "seed,nodes,vms,policy,locality,optimal_locality,bytes_migrated,lower_bound_bytes,"
                   "periods_to_converge,pingpong_moves,plan_us_median,cpu_load,throughput,optimal_"
                   "throughput\n");
        for (size_t i = 0; i < n; i++) {
                const struct sim_result *r = &rows[i].res;
                fprintf(f, "%llu,%u,%u,%s,%.6f,%.6f,%llu,%llu,%u,%llu,%.2f,%.2f,%.6f,%.6f\n",
                        (unsigned long long)rows[i].seed, rows[i].nodes, rows[i].vms, r->policy, r->locality,
                        r->optimal_locality, (unsigned long long)r->bytes_migrated,
                        (unsigned long long)r->lower_bound_bytes, r->periods_to_converge,
                        (unsigned long long)r->pingpong_moves, r->plan_us_median, rows[i].cpu_load,
                        r->throughput, r->optimal_throughput);
        }
        return ferror(f) ? -EIO : 0;
}

/* Rows of one group: the same size and CPU load. */
static bool same_group(const struct sim_row *a, const struct sim_row *b)
{
        return a->nodes == b->nodes && a->vms == b->vms && a->cpu_load == b->cpu_load;
}

static bool first_of_group(const struct sim_row *rows, size_t i)
{
        for (size_t j = 0; j < i; j++)
                if (same_group(&rows[j], &rows[i]))
                        return false;
        return true;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
        if (n == 0)
                return NAN;
        qsort(v, n, sizeof(*v), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct agg {
        size_t n;
        double loc_sum, opt_sum, ratio_sum;
        double bytes_sum, lb_sum;
        double tput_ratio_sum; /* throughput / optimal_throughput */
        uint64_t pingpong;
        size_t exact, tput_exact;
        double *conv, *plan_us, *loc;
};

static void agg_rows(const struct sim_row *rows, size_t n, const struct sim_row *group, const char *policy,
                     struct agg *a)
{
        memset(a, 0, sizeof(*a));
        a->conv = calloc(n + 1, sizeof(double));
        a->plan_us = calloc(n + 1, sizeof(double));
        a->loc = calloc(n + 1, sizeof(double));
        for (size_t i = 0; i < n && a->conv && a->plan_us && a->loc; i++) {
                const struct sim_result *r = &rows[i].res;
                if (!same_group(&rows[i], group) || !streq(r->policy, policy))
                        continue;
                a->loc_sum += r->locality;
                a->opt_sum += r->optimal_locality;
                a->ratio_sum += r->optimal_locality > 0 ? r->locality / r->optimal_locality : 1;
                a->bytes_sum += (double)r->bytes_migrated;
                a->lb_sum += (double)r->lower_bound_bytes;
                a->pingpong += r->pingpong_moves;
                a->exact += r->optimal_exact;
                a->tput_exact += r->optimal_throughput_exact;
                a->tput_ratio_sum += r->optimal_throughput > 0 ? r->throughput / r->optimal_throughput : 1;
                a->conv[a->n] = r->periods_to_converge;
                a->plan_us[a->n] = r->plan_us_median;
                a->loc[a->n] = r->locality;
                a->n++;
        }
}

static void agg_done(struct agg *a)
{
        free(a->conv);
        free(a->plan_us);
        free(a->loc);
}

int sim_table_print(FILE *f, const struct sim_row *rows, size_t n, const char *const *policies,
                    size_t n_policies)
{
        int missed = 0;

        for (size_t i = 0; i < n; i++) {
                /* One block per group, in order of first appearance. */
                if (!first_of_group(rows, i))
                        continue;

                const struct sim_row *g = &rows[i];
                struct agg aut = {};
                bool have_auto = false;

                agg_rows(rows, n, g, "auto", &aut);
                have_auto = aut.n > 0;
                fprintf(f, "\n== %u nodes, %u VMs, CPU load %.2f ==\n", g->nodes, g->vms, g->cpu_load);
                fprintf(f, "%-9s %5s %9s %9s %8s %9s %11s %9s %8s %9s %10s %9s\n", "policy", "runs",
                        "locality", "median", "opt", "loc/opt", "auto/this", "bytes/LB", "pingpong",
                        "converge", "plan_us", "tput/opt");
                for (size_t p = 0; p < n_policies; p++) {
                        struct agg a;
                        agg_rows(rows, n, g, policies[p], &a);
                        if (a.n == 0) {
                                agg_done(&a);
                                continue;
                        }
                        fprintf(f,
                                "%-9s %5zu %9.4f %9.4f %8.4f %9.4f %11.4f %9.3f %8llu %9.1f %10.1f %9.4f\n",
                                policies[p], a.n, a.loc_sum / a.n, median(a.loc, a.n), a.opt_sum / a.n,
                                a.ratio_sum / a.n,
                                have_auto && a.loc_sum > 0 ? aut.loc_sum / a.loc_sum : NAN,
                                a.lb_sum > 0 ? a.bytes_sum / a.lb_sum : NAN, (unsigned long long)a.pingpong,
                                median(a.conv, a.n), median(a.plan_us, a.n), a.tput_ratio_sum / a.n);
                        if (p == 0)
                                fprintf(f,
                                        "          (optimal_locality exact in %zu of %zu scenarios; the "
                                        "rest are upper bounds from the per-VM relaxation; "
                                        "optimal_throughput exact in %zu, the rest from the heuristic)\n",
                                        a.exact, a.n, a.tput_exact);
                        agg_done(&a);
                }
                if (have_auto) {
                        double ratio = aut.ratio_sum / aut.n,
                               bytes = aut.lb_sum > 0 ? aut.bytes_sum / aut.lb_sum : 0,
                               plan = median(aut.plan_us, aut.n), tput = aut.tput_ratio_sum / aut.n;
                        bool above = true;
                        for (size_t p = 0; p < n_policies; p++) {
                                struct agg a;
                                if (streq(policies[p], "auto") || streq(policies[p], "optimal"))
                                        continue;
                                agg_rows(rows, n, g, policies[p], &a);
                                if (a.n > 0 && a.loc_sum >= aut.loc_sum)
                                        above = false;
                                agg_done(&a);
                        }
                        fprintf(f,
                                "targets (auto): locality/optimal %.4f %s 0.99 [%s]; above every baseline "
                                "[%s]; "
                                "bytes/LB %.3f %s 1.1 [%s]; pingpong %llu [%s]; plan median %.1f us %s 1000 "
                                "[%s]; throughput/optimal %.4f %s 0.98 [%s]\n",
                                ratio, ratio >= 0.99 ? ">=" : "<", ratio >= 0.99 ? "met" : "MISSED",
                                above ? "met" : "MISSED", bytes, bytes <= 1.1 ? "<=" : ">",
                                bytes <= 1.1 ? "met" : "MISSED", (unsigned long long)aut.pingpong,
                                aut.pingpong == 0 ? "met" : "MISSED", plan, plan <= 1000 ? "<=" : ">",
                                plan <= 1000 ? "met" : "MISSED", tput, tput >= 0.98 ? ">=" : "<",
                                tput >= 0.98 ? "met" : "MISSED");
                        missed += (ratio < 0.99) + !above + (bytes > 1.1) + (aut.pingpong != 0) +
                                  (plan > 1000) + (tput < 0.98);
                }
                agg_done(&aut);
        }
        return missed;
}

static const char *const plot_colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

/* One panel: mean locality per period of each policy over the rows of one size. */
static int plot_panel(FILE *f, const struct sim_row *rows, size_t n, const char *const *policies,
                      size_t n_policies, const struct sim_row *g, double top)
{
        const double W = 800, H = 380, L = 60, R = 140, T = 30, B = 50;
        unsigned periods = 0;
        double lo = 1.0;

        for (size_t i = 0; i < n; i++)
                if (same_group(&rows[i], g)) {
                        periods = MAX(periods, rows[i].res.n_series);
                        for (unsigned t = 0; t < rows[i].res.n_series; t++)
                                lo = MIN(lo, rows[i].res.series[t]);
                }
        if (periods < 2)
                return 0;
        lo = MIN(floor(lo * 10) / 10, 0.9);

        fprintf(f, "<g transform=\"translate(0,%.0f)\">\n", top);
        fprintf(f,
                "<text x=\"%.0f\" y=\"18\">Access locality per period, mean over scenarios (%u nodes, %u "
                "VMs, CPU load %.2f)</text>\n",
                L, g->nodes, g->vms, g->cpu_load);
        fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L, H - B,
                W - R, H - B);
        fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L, T, L,
                H - B);
        for (int k = 0; k <= 5; k++) {
                double v = lo + (1.0 - lo) * k / 5, y = H - B - (H - T - B) * k / 5;
                fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", L - 6, y + 4, v);
                fprintf(f, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, y,
                        W - R, y);
        }
        for (unsigned k = 0; k <= 4; k++)
                fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%u</text>\n",
                        L + (W - L - R) * k / 4, H - B + 18, (periods - 1) * k / 4);
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">period</text>\n", L + (W - L - R) / 2,
                H - 10);

        for (size_t p = 0; p < n_policies; p++) {
                double *mean = calloc(periods, sizeof(double));
                unsigned count = 0;
                if (!mean)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        if (!same_group(&rows[i], g) || !streq(rows[i].res.policy, policies[p]))
                                continue;
                        count++;
                        for (unsigned t = 0; t < periods && t < rows[i].res.n_series; t++)
                                mean[t] += rows[i].res.series[t];
                }
                if (count > 0) {
                        const char *color = plot_colors[p % ELEMENTSOF(plot_colors)];
                        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                                color);
                        for (unsigned t = 0; t < periods; t++) {
                                double x = L + (W - L - R) * t / (periods - 1);
                                double y = H - B - (H - T - B) * (mean[t] / count - lo) / (1.0 - lo);
                                fprintf(f, "%.1f,%.1f ", x, y);
                        }
                        fprintf(f, "\"/>\n");
                        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">%s</text>\n", W - R + 10,
                                T + 20 + 18.0 * p, color, policies[p]);
                }
                free(mean);
        }
        fprintf(f, "</g>\n");
        return 1;
}

int sim_plot_svg(FILE *f, const struct sim_row *rows, size_t n, const char *const *policies,
                 size_t n_policies)
{
        const double W = 800, H = 380;
        size_t n_sizes = 0;
        int r;

        if (n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                n_sizes += first_of_group(rows, i);
        fprintf(f,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                "font-family=\"sans-serif\" font-size=\"12\">\n",
                W, H * (double)n_sizes);
        fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
        /* One panel per group, in order of first appearance. */
        for (size_t i = 0, panel = 0; i < n; i++) {
                if (!first_of_group(rows, i))
                        continue;
                r = plot_panel(f, rows, n, policies, n_policies, &rows[i], H * (double)panel);
                if (r < 0)
                        return r;
                panel++;
        }
        fprintf(f, "</svg>\n");
        return ferror(f) ? -EIO : 0;
}
