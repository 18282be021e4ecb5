/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vnumactl's live views. top: a refreshing table of the managed VMs (numatop's for vnumad);
 * wait and rebalance --wait are in vnumactl-live-wait.c. Each step is one status request: they show what
 * vnumad measured in its last period. Terminal controls (clearing, rewriting a line) are written around the
 * stdout filter, and only to a terminal; the text between them is neutralized like the rest of vnumactl's
 * output. */
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

const char live_sort_keys[] = "locality off-home rate wait name";

bool live_sort_key_valid(const char *key)
{
        return streq(key, "locality") || streq(key, "off-home") || streq(key, "rate") ||
               streq(key, "wait") || streq(key, "name");
}

double live_now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A number member, NAN when missing, null or not a number. */
double live_num(struct json_object *o, const char *key)
{
        struct json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !v ||
            (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)))
                return NAN;
        return json_object_get_double(v);
}

struct json_object *live_num_json(double v)
{
        return isnan(v) ? NULL : json_object_new_double(v);
}

struct json_object *live_bytes_json(double v)
{
        return isnan(v) ? NULL : json_object_new_uint64((uint64_t)v);
}

int live_get_status(const struct live_opts *o, struct json_object **ret)
{
        _cleanup_json_ struct json_object *req = json_object_new_object();

        if (!req)
                return log_error_errno(-ENOMEM, "Out of memory.");
        return daemon_call(o->daemon, "status", req, ret);
}

struct json_object *live_find_vm(struct json_object *st, const char *name)
{
        struct json_object *vms = NULL;

        json_member_array(st, "vms", &vms);
        for (size_t i = 0; vms && i < json_object_array_length(vms); i++) {
                struct json_object *vm = json_object_array_get_idx(vms, i);

                if (streq(json_string_or(vm, "name", ""), name))
                        return vm;
        }
        return NULL;
}

const char *live_vm_mode(struct json_object *vm)
{
        struct json_object *policy = NULL;

        json_member_object(vm, "policy", &policy);
        return json_string_or(policy, "mode", "?");
}

/* How often wait and rebalance --wait ask: each period, at least every second, at most ten
 * times a second. */
double live_poll_interval_s(struct json_object *st)
{
        double ms = (double)json_uint64_or(st, "period_ms", 1000);

        return (ms < 100 ? 100 : ms > 1000 ? 1000 : ms) / 1000.0;
}

/* Text with the terminal controls neutralized, then the controls given around it, to fd 1. */
void live_write_terminal(const char *before, char *text, const char *after)
{
        fflush(stdout);
        string_neutralize_controls(text, strlen(text), true);
        dprintf(STDOUT_FILENO, "%s%s%s", before, text, after);
}

/* ---- top ---- */

struct row {
        struct json_object *vm; /* borrowed from the status document */
        const char *name;
        double locality, off_home, rate, wait;
};

struct seen {
        uint64_t id;
        uint64_t bytes_migrated;
};

static const char *sort_key;

static int cmp_num(double a, double b, bool ascending)
{
        /* Unknown values go last, whatever the order. */
        if (isnan(a) || isnan(b))
                return isnan(a) - isnan(b);
        if (a == b)
                return 0;
        return (a < b) == ascending ? -1 : 1;
}

static int cmp_rows(const void *x, const void *y)
{
        const struct row *a = x, *b = y;
        int c = 0;

        if (streq(sort_key, "locality"))
                c = cmp_num(a->locality, b->locality, true); /* the worst first */
        else if (streq(sort_key, "off-home"))
                c = cmp_num(a->off_home, b->off_home, false);
        else if (streq(sort_key, "rate"))
                c = cmp_num(a->rate, b->rate, false);
        else if (streq(sort_key, "wait"))
                c = cmp_num(a->wait, b->wait, false);
        return c ?: strcmp(a->name, b->name);
}

static bool wanted(const char *name, char **names, int n_names)
{
        if (n_names == 0)
                return true;
        for (int i = 0; i < n_names; i++)
                if (streq(names[i], name))
                        return true;
        return false;
}

/* The rows of a status document, sorted; rates from the bytes each VM had migrated at the last
 * refresh (prev), which is updated. */
static int top_rows(struct json_object *st, char **names, int n_names, struct seen **prev, size_t *n_prev,
                    double dt, struct row **ret, size_t *ret_n)
{
        struct json_object *vms = NULL;
        struct seen *now;
        struct row *rows;
        size_t n = 0, n_vms;

        json_member_array(st, "vms", &vms);
        n_vms = vms ? json_object_array_length(vms) : 0;
        rows = calloc(n_vms ?: 1, sizeof(*rows));
        now = calloc(n_vms ?: 1, sizeof(*now));
        if (!rows || !now) {
                free(rows);
                free(now);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n_vms; i++) {
                struct json_object *vm = json_object_array_get_idx(vms, i);
                uint64_t id = json_uint64_or(vm, "id", 0),
                         migrated = json_uint64_or(vm, "bytes_migrated", 0);
                struct row *r = &rows[n];

                now[i] = (struct seen){id, migrated};
                if (!wanted(json_string_or(vm, "name", ""), names, n_names))
                        continue;
                *r = (struct row){
                        .vm = vm,
                        .name = json_string_or(vm, "name", "?"),
                        .locality = live_num(vm, "locality_ratio"),
                        .off_home = live_num(vm, "off_home_bytes"),
                        .rate = NAN,
                        .wait = live_num(vm, "vcpu_wait_ratio"),
                };
                for (size_t j = 0; j < *n_prev && dt > 0; j++)
                        if ((*prev)[j].id == id && migrated >= (*prev)[j].bytes_migrated)
                                r->rate = (double)(migrated - (*prev)[j].bytes_migrated) / dt;
                n++;
        }
        free(*prev);
        *prev = now;
        *n_prev = n_vms;
        qsort(rows, n, sizeof(*rows), cmp_rows);
        *ret = rows;
        *ret_n = n;
        return 0;
}

void live_fmt_pct(char *buf, size_t size, double v)
{
        if (isnan(v))
                snprintf(buf, size, "-");
        else
                snprintf(buf, size, "%.1f", v * 100.0);
}

static void fmt_mib(char *buf, size_t size, double v)
{
        if (isnan(v))
                snprintf(buf, size, "-");
        else
                snprintf(buf, size, "%.1f", v / 1048576.0);
}

static void top_print_text(struct json_object *st, const struct row *rows, size_t n, bool cells, bool keys)
{
        char clock[16] = "";
        time_t t = time(NULL);
        struct tm tm;

        if (localtime_r(&t, &tm))
                strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
        printf("vnumactl top - %s  vnumad %s, period %" PRIu64 " every %" PRIu64 " ms, %zu VMs, %.1f MiB "
               "migrated, sort: %s\n",
               clock, json_string_or(st, "version", "?"), json_uint64_or(st, "period", 0),
               json_uint64_or(st, "period_ms", 0), n,
               (double)json_uint64_or(st, "bytes_migrated", 0) / 1048576.0, sort_key);
        printf("%-24s  %7s  %12s  %8s  %11s  %s\n", "VM", "Local %", "Off-home MiB", "MiB/s", "vCPU wait %",
               "Mode");
        for (size_t i = 0; i < n; i++) {
                struct json_object *guest_nodes = NULL;
                char loc[16], off[24], rate[24], wait[16];

                live_fmt_pct(loc, sizeof(loc), rows[i].locality);
                fmt_mib(off, sizeof(off), rows[i].off_home);
                fmt_mib(rate, sizeof(rate), rows[i].rate);
                live_fmt_pct(wait, sizeof(wait), rows[i].wait);
                printf("%-24s  %7s  %12s  %8s  %11s  %s\n", rows[i].name, loc, off, rate, wait,
                       live_vm_mode(rows[i].vm));
                if (!cells)
                        continue;
                json_member_array(rows[i].vm, "guest_nodes", &guest_nodes);
                for (size_t c = 0; guest_nodes && c < json_object_array_length(guest_nodes); c++) {
                        struct json_object *g = json_object_array_get_idx(guest_nodes, c);
                        char label[48];
                        int64_t home = json_int64_or(g, "home_node", -1);

                        if (home >= 0)
                                snprintf(label, sizeof(label), "  cell %" PRIi64 " (home node %" PRIi64 ")",
                                         json_int64_or(g, "id", -1), home);
                        else
                                snprintf(label, sizeof(label), "  cell %" PRIi64,
                                         json_int64_or(g, "id", -1));
                        live_fmt_pct(loc, sizeof(loc), live_num(g, "locality_ratio"));
                        fmt_mib(off, sizeof(off), live_num(g, "off_home_bytes"));
                        live_fmt_pct(wait, sizeof(wait), live_num(g, "vcpu_wait_ratio"));
                        printf("%-24s  %7s  %12s  %8s  %11s\n", label, loc, off, "", wait);
                }
        }
        if (keys)
                printf("\nSort: l locality, o off-home, r rate, w wait, n name.  c cells %s.  q quit.\n",
                       cells ? "off" : "on");
}

static void top_print_json(struct json_object *st, const struct row *rows, size_t n, unsigned iteration,
                           double dt)
{
        _cleanup_json_ struct json_object *doc = show_json_document();
        struct json_object *errors = NULL, *vms = json_object_new_array();

        if (!doc || !vms) {
                json_object_put(vms);
                return;
        }
        /* The daemon's errors (libvirt away) are this document's too. */
        if (json_member_array(st, "errors", &errors) == 0 && errors)
                json_object_object_add(doc, "errors", json_object_get(errors));
        json_object_object_add(doc, "iteration", json_object_new_uint64(iteration));
        json_object_object_add(doc, "interval_ns",
                               dt > 0 ? json_object_new_uint64((uint64_t)(dt * 1e9)) : NULL);
        json_object_object_add(doc, "period", json_object_new_uint64(json_uint64_or(st, "period", 0)));
        json_object_object_add(doc, "period_ms", json_object_new_uint64(json_uint64_or(st, "period_ms", 0)));
        json_object_object_add(doc, "sort", json_object_new_string(sort_key));
        for (size_t i = 0; i < n; i++) {
                struct json_object *v = json_object_new_object(), *g = NULL;

                json_object_object_add(v, "name", json_object_new_string(rows[i].name));
                json_object_object_add(v, "mode", json_object_new_string(live_vm_mode(rows[i].vm)));
                json_object_object_add(v, "locality_ratio", live_num_json(rows[i].locality));
                json_object_object_add(v, "off_home_bytes", live_bytes_json(rows[i].off_home));
                json_object_object_add(v, "present_bytes",
                                       live_bytes_json(live_num(rows[i].vm, "present_bytes")));
                json_object_object_add(v, "migrated_bytes_per_second", live_num_json(rows[i].rate));
                json_object_object_add(
                        v, "bytes_migrated",
                        json_object_new_uint64(json_uint64_or(rows[i].vm, "bytes_migrated", 0)));
                json_object_object_add(v, "vcpu_wait_ratio", live_num_json(rows[i].wait));
                json_member_array(rows[i].vm, "guest_nodes", &g);
                json_object_object_add(v, "guest_nodes", g ? json_object_get(g) : json_object_new_array());
                json_object_array_add(vms, v);
        }
        json_object_object_add(doc, "vms", vms);
        /* JSON lines: one document per refresh, each on one line. */
        printf("%s\n",
               json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static volatile sig_atomic_t top_stop;
static struct termios saved_termios;
static bool termios_saved;

static void on_stop_signal(int sig)
{
        top_stop = 1;
}

static void restore_terminal(void)
{
        if (termios_saved)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
        termios_saved = false;
}

/* Keys one at a time, unechoed, for the interactive sort; restored at exit. */
static bool setup_keys(void)
{
        struct termios t;

        if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_termios) < 0)
                return false;
        t = saved_termios;
        t.c_lflag &= ~(ICANON | ECHO);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &t) < 0)
                return false;
        termios_saved = true;
        atexit(restore_terminal);
        return true;
}

/* Sleeps up to seconds; a key read meanwhile ends it early. 0 when none came. */
int live_pause_for(double seconds, bool keys)
{
        double end = live_now_s() + seconds;

        while (!top_stop) {
                struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
                double left = end - live_now_s();
                char c;

                if (left <= 0)
                        return 0;
                if (poll(&p, keys ? 1 : 0, (int)(left * 1000.0) + 1) > 0 && keys) {
                        if (read(STDIN_FILENO, &c, 1) == 1)
                                return (unsigned char)c;
                        return 0;
                }
        }
        return 0;
}

int live_top(const struct live_opts *o, char **args, int n_args)
{
        struct sigaction sa = {.sa_handler = on_stop_signal};
        _cleanup_free_ struct seen *prev = NULL;
        bool tty = isatty(STDOUT_FILENO) && !o->daemon->json, keys = false, cells = false;
        double last = 0;
        size_t n_prev = 0;
        int r = 0;

        sort_key = o->sort ?: "locality";
        /* Without SA_RESTART: a signal ends the pause, the view is left cleanly. */
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        if (tty)
                keys = setup_keys();
        for (unsigned i = 1; !top_stop; i++) {
                _cleanup_json_ struct json_object *st = NULL;
                _cleanup_free_ struct row *rows = NULL;
                double t, dt;
                size_t n;
                int key;

                r = live_get_status(o, &st);
                if (r < 0)
                        break;
                t = live_now_s();
                dt = last > 0 ? t - last : 0;
                last = t;
                r = top_rows(st, args, n_args, &prev, &n_prev, dt, &rows, &n);
                if (r < 0) {
                        log_error_errno(r, "Out of memory.");
                        break;
                }
                if (o->daemon->json)
                        top_print_json(st, rows, n, i, dt);
                else {
                        if (tty) {
                                char none[] = "";
                                live_write_terminal("\033[H\033[2J", none, "");
                        } else if (i > 1)
                                putchar('\n');
                        top_print_text(st, rows, n, cells, keys);
                }
                fflush(stdout);
                if (o->iterations && i >= o->iterations)
                        break;
                key = live_pause_for(o->delay_s, keys);
                switch (key) {
                case 'q':
                        top_stop = 1;
                        break;
                case 'l':
                        sort_key = "locality";
                        break;
                case 'o':
                        sort_key = "off-home";
                        break;
                case 'r':
                        sort_key = "rate";
                        break;
                case 'w':
                        sort_key = "wait";
                        break;
                case 'n':
                        sort_key = "name";
                        break;
                case 'c':
                        cells = !cells;
                        break;
                }
        }
        restore_terminal();
        return r;
}
