/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The nested guest's workload: a NUMA-aware program that keeps every guest node busy with
 * its own memory, so a host-side balancer has something real to measure and place.
 *
 * For each guest node it starts one thread per vCPU of that node, pinned to that vCPU. The
 * thread allocates its share of the node's buffer on its own node (first touch after
 * pinning, or mbind), then touches it with the chosen pattern forever. Every interval it
 * prints, on stdout (the guest's serial console), the bytes touched per second per node:
 *
 *     vnw: t=3.0s node0=41.2MiB/s node1=39.8MiB/s
 *
 * Configured from the kernel command line (vnw.size=64M vnw.pattern=stream|random|hot
 * vnw.hot=10 vnw.alloc=first-touch|mbind vnw.interval=1000 vnw.duration=0 vnw.nodes=0-1
 * vnw.phase=0); words given as arguments ("size=32M" or "vnw.size=32M") override it. Built
 * static: the guest's initramfs has no libc.
 *
 * vnw.phase=S (with vnw.nodes) is a phase change: the nodes of vnw.nodes are busy for the first
 * S seconds, then the other nodes with CPUs instead. Every node's buffer is allocated at start,
 * so the guest's memory is the same in both phases; an idle thread sleeps (its vCPU halts). The
 * switch is announced with a line "vnw: phase at t=S.Ss: busy nodes 1".
 *
 * With vnw.pattern=hot, the hot part of each node's buffer is printed once at start as guest
 * physical ranges (read from /proc/self/pagemap; the workload runs as init, so the frame
 * numbers are there), so the host can find the hot set in guest RAM:
 *
 *     vnw: hot-gpa node=1 0x8000000-0x8400000 0x8500000-0x8600000
 *     vnw: hot-gpa node=1 end ranges=2 bytes=5242880 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "guest-workload-config.h"
#include "vnuma/basic/fileio.h"
#include "vnuma/basic/idset.h"
#include "vnuma/basic/macro.h"

#define CACHE_LINE      64
#define PAGE_SIZE_GUESS 4096
#define MPOL_BIND_MODE  2 /* MPOL_BIND from <linux/mempolicy.h>, without libnuma */
#define MAX_WORKERS     256

struct worker {
        int node;
        int cpu;
        size_t len;
        uint8_t *buf;
        const struct workload_config *cfg;
        _Atomic uint64_t touched; /* bytes */
        _Atomic int state;        /* 0 starting, 1 running, <0 -errno */
        _Atomic bool active;      /* touching its buffer now (else sleeping: vnw.phase) */
        pthread_t thread;
};

static _Atomic bool stop_requested;

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xorshift64(uint64_t *s)
{
        uint64_t x = *s;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return *s = x;
}

static int pin_to_cpu(int cpu)
{
        cpu_set_t set;

        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) < 0)
                return negative_errno();
        return 0;
}

static int bind_to_node(void *addr, size_t len, int node)
{
        unsigned long mask[16] = {0};

        if (node < 0 || (size_t)node >= sizeof(mask) * 8)
                return -ERANGE;
        mask[node / (8 * sizeof(unsigned long))] |= 1UL << (node % (8 * sizeof(unsigned long)));
        if (syscall(SYS_mbind, addr, len, MPOL_BIND_MODE, mask, sizeof(mask) * 8, 0) < 0)
                return negative_errno();
        return 0;
}

/* One pass of the pattern; returns the bytes it touched. */
static uint64_t touch_pass(struct worker *w, uint64_t *rnd)
{
        const size_t lines = w->len / CACHE_LINE;
        size_t hot_lines, n;

        switch (w->cfg->pattern) {
        case WORKLOAD_STREAM:
                for (size_t i = 0; i < lines; i++)
                        w->buf[i * CACHE_LINE]++;
                return (uint64_t)lines * CACHE_LINE;
        case WORKLOAD_RANDOM:
        case WORKLOAD_HOT:
                hot_lines = w->cfg->pattern == WORKLOAD_HOT
                                    ? MAX(lines * w->cfg->hot_percent / 100, (size_t)1)
                                    : lines;
                /* As many touches as a stream pass over the hot set, capped so a pass stays
                 * short enough to notice a stop request. */
                n = MIN(hot_lines, (size_t)1 << 16);
                for (size_t i = 0; i < n; i++)
                        w->buf[(xorshift64(rnd) % hot_lines) * CACHE_LINE]++;
                return (uint64_t)n * CACHE_LINE;
        }
        return 0;
}

static void *worker_main(void *arg)
{
        struct worker *w = arg;
        uint64_t rnd = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)w->cpu << 32) ^ (uint64_t)w->node;
        void *p;
        int r;

        r = pin_to_cpu(w->cpu);
        if (r < 0)
                goto fail;
        p = mmap(NULL, w->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
                r = negative_errno();
                goto fail;
        }
        w->buf = p;
        /* Small pages: a transparent huge page falls back to another node whenever the
         * thread's node has no free 2 MiB block, which small guest nodes often lack. */
        (void)madvise(w->buf, w->len, MADV_NOHUGEPAGE);
        if (w->cfg->alloc == WORKLOAD_MBIND) {
                r = bind_to_node(w->buf, w->len, w->node);
                if (r < 0)
                        goto fail;
        }
        /* First touch, on the pinned vCPU: the page lands on this vCPU's node. */
        memset(w->buf, 1, w->len);
        atomic_store(&w->state, 1);

        while (!atomic_load_explicit(&stop_requested, memory_order_relaxed)) {
                if (!atomic_load_explicit(&w->active, memory_order_relaxed)) {
                        usleep(50000);
                        continue;
                }
                atomic_fetch_add_explicit(&w->touched, touch_pass(w, &rnd), memory_order_relaxed);
        }
        return NULL;

fail:
        atomic_store(&w->state, r);
        return NULL;
}

/* Fraction of the worker's pages that the kernel reports on its own node. */
/* Prints the guest physical ranges of the hot part of a node's buffers (HOT_GPA_PER_LINE per
 * line, at most HOT_GPA_LINES lines: the serial console is slow under TCG). */
#define HOT_GPA_PER_LINE 8
#define HOT_GPA_LINES    64
static void print_hot_gpa(const struct worker *workers, size_t n, int node)
{
        const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        uint64_t start = 0, end = 0, bytes = 0;
        unsigned on_line = 0, lines = 0, ranges = 0;
        int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                size_t hot;

                if (workers[i].node != node)
                        continue;
                hot = MAX(workers[i].len / CACHE_LINE * workers[i].cfg->hot_percent / 100, (size_t)1) *
                      CACHE_LINE;
                for (uint64_t off = 0; off < hot; off += page) {
                        uint64_t e, va = (uint64_t)(uintptr_t)workers[i].buf + off, gpa;

                        if (pread(fd, &e, sizeof(e), (off_t)(va / page * sizeof(e))) != (ssize_t)sizeof(e) ||
                            !(e & (UINT64_C(1) << 63)) || (e & ((UINT64_C(1) << 55) - 1)) == 0)
                                continue;
                        gpa = (e & ((UINT64_C(1) << 55) - 1)) * page;
                        bytes += page;
                        if (end == gpa) {
                                end += page;
                                continue;
                        }
                        if (end > start) {
                                if (on_line == 0 && lines < HOT_GPA_LINES)
                                        printf("vnw: hot-gpa node=%d", node);
                                if (lines < HOT_GPA_LINES)
                                        printf(" 0x%llx-0x%llx", (unsigned long long)start,
                                               (unsigned long long)end);
                                ranges++;
                                if (++on_line == HOT_GPA_PER_LINE) {
                                        if (lines < HOT_GPA_LINES)
                                                printf("\n");
                                        lines++;
                                        on_line = 0;
                                }
                        }
                        start = gpa;
                        end = gpa + page;
                }
        }
        if (end > start) {
                if (on_line == 0 && lines < HOT_GPA_LINES)
                        printf("vnw: hot-gpa node=%d", node);
                if (lines < HOT_GPA_LINES)
                        printf(" 0x%llx-0x%llx", (unsigned long long)start, (unsigned long long)end);
                ranges++;
                on_line++;
        }
        if (on_line > 0 && lines < HOT_GPA_LINES)
                printf("\n");
        printf("vnw: hot-gpa node=%d end ranges=%u bytes=%llu%s\n", node, ranges, (unsigned long long)bytes,
               lines >= HOT_GPA_LINES ? " (truncated)" : "");
        close(fd);
}

static int worker_locality(const struct worker *w, double *ret)
{
        size_t n = w->len / PAGE_SIZE_GUESS, local = 0;
        _cleanup_free_ void **pages = calloc(n, sizeof(void *));
        _cleanup_free_ int *status = calloc(n, sizeof(int));

        if (!pages || !status)
                return -ENOMEM;
        if (n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                pages[i] = w->buf + i * PAGE_SIZE_GUESS;
        if (syscall(SYS_move_pages, 0, n, pages, NULL, status, 0) < 0)
                return negative_errno();
        for (size_t i = 0; i < n; i++)
                if (status[i] == w->node)
                        local++;
        *ret = (double)local / (double)n;
        return 0;
}

/* Sleeps until the CLOCK_MONOTONIC time t (seconds, as now_s()). */
static void sleep_until(double t)
{
        struct timespec ts = {
                .tv_sec = (time_t)t,
                .tv_nsec = (long)((t - (double)(time_t)t) * 1e9),
        };

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

static int node_cpus(int node, struct idset *ret)
{
        _cleanup_free_ char *path = NULL, *line = NULL;
        int r;

        if (asprintf(&path, "/sys/devices/system/node/node%d/cpulist", node) < 0)
                return -ENOMEM;
        r = read_one_line_at(NULL, path, &line);
        if (r < 0)
                return r;
        return idset_parse(line, ret);
}

static int load_config(int argc, char **argv, struct workload_config *ret)
{
        struct workload_config c;
        _cleanup_free_ char *cmdline = NULL;
        int r;

        workload_config_init(&c);
        r = read_full_file_at(NULL, "/proc/cmdline", 65536, &cmdline, NULL);
        if (r < 0)
                fprintf(stderr, "vnw: cannot read /proc/cmdline (%s), using defaults\n", strerror(-r));
        else {
                _cleanup_free_ char *bad = NULL;

                r = workload_config_parse_cmdline(&c, cmdline, &bad);
                if (r < 0) {
                        fprintf(stderr, "vnw: invalid kernel command line word '%s': %s\n", strna(bad),
                                strerror(-r));
                        return r;
                }
        }
        for (int i = 1; i < argc; i++) {
                const char *word = startswith(argv[i], "vnw.") ? argv[i] + 4 : argv[i];
                _cleanup_free_ char *key = strdup(word);
                char *eq;

                if (!key)
                        return -ENOMEM;
                eq = strchr(key, '=');
                if (!eq) {
                        fprintf(stderr, "vnw: argument '%s' is not KEY=VALUE\n", argv[i]);
                        return -EINVAL;
                }
                *eq = '\0';
                r = workload_config_set(&c, key, eq + 1);
                if (r < 0) {
                        fprintf(stderr, "vnw: invalid argument '%s': %s\n", argv[i], strerror(-r));
                        return r;
                }
        }
        *ret = c;
        return 0;
}

int main(int argc, char **argv)
{
        static struct worker workers[MAX_WORKERS];
        _cleanup_free_ char *online_line = NULL;
        struct workload_config cfg;
        struct idset online, loaded = IDSET_EMPTY;
        size_t nworkers = 0;
        double t0, last;
        uint64_t last_bytes[IDSET_MAX] = {0};
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        r = load_config(argc, argv, &cfg);
        if (r < 0)
                return EXIT_FAILURE;
        if (cfg.phase_s > 0 && idset_is_empty(&cfg.nodes)) {
                fprintf(stderr, "vnw: vnw.phase needs vnw.nodes (the nodes busy before the phase change)\n");
                return EXIT_FAILURE;
        }

        r = read_one_line_at(NULL, "/sys/devices/system/node/online", &online_line);
        if (r >= 0)
                r = idset_parse(online_line, &online);
        if (r < 0) {
                fprintf(stderr,
                        "vnw: cannot read the online nodes from /sys/devices/system/node/online: %s\n",
                        strerror(-r));
                return EXIT_FAILURE;
        }

        IDSET_FOREACH (node, &online) {
                struct idset cpus;
                int ncpus;
                bool busy = idset_is_empty(&cfg.nodes) || idset_test(&cfg.nodes, node);

                /* With a phase change every node gets its threads: the idle ones wait for it. */
                if (!busy && cfg.phase_s == 0)
                        continue;
                r = node_cpus(node, &cpus);
                if (r < 0) {
                        fprintf(stderr, "vnw: cannot read the CPUs of node %d: %s\n", node, strerror(-r));
                        return EXIT_FAILURE;
                }
                ncpus = idset_count(&cpus);
                if (ncpus == 0)
                        continue; /* a memory-only node has no vCPU to run on */
                IDSET_FOREACH (cpu, &cpus) {
                        struct worker *w;

                        if (nworkers >= MAX_WORKERS) {
                                fprintf(stderr, "vnw: more than %d vCPUs\n", MAX_WORKERS);
                                return EXIT_FAILURE;
                        }
                        w = &workers[nworkers++];
                        w->node = node;
                        w->cpu = cpu;
                        /* The node's share, in whole pages. */
                        w->len = MAX(cfg.size_per_node / (uint64_t)ncpus / PAGE_SIZE_GUESS, (uint64_t)1) *
                                 PAGE_SIZE_GUESS;
                        w->cfg = &cfg;
                        atomic_store(&w->active, busy);
                }
                idset_add(&loaded, node);
        }
        if (nworkers == 0) {
                fprintf(stderr, "vnw: no node with CPUs to load\n");
                return EXIT_FAILURE;
        }

        printf("vnw: pattern=%s hot=%u%% alloc=%s size-per-node=%llu MiB, %zu threads, phase %us\n",
               workload_pattern_to_string(cfg.pattern), cfg.hot_percent, workload_alloc_to_string(cfg.alloc),
               (unsigned long long)(cfg.size_per_node >> 20), nworkers, cfg.phase_s);
        for (size_t i = 0; i < nworkers; i++) {
                r = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
                if (r != 0) {
                        fprintf(stderr, "vnw: cannot start a thread: %s\n", strerror(r));
                        return EXIT_FAILURE;
                }
        }
        for (size_t i = 0; i < nworkers; i++) {
                int s;

                while ((s = atomic_load(&workers[i].state)) == 0)
                        usleep(10000);
                if (s < 0) {
                        fprintf(stderr, "vnw: thread for node %d cpu %d failed: %s\n", workers[i].node,
                                workers[i].cpu, strerror(-s));
                        return EXIT_FAILURE;
                }
        }

        IDSET_FOREACH (node, &loaded) {
                size_t bytes = 0, local_bytes = 0;
                int threads = 0;

                for (size_t i = 0; i < nworkers; i++) {
                        double frac;

                        if (workers[i].node != node)
                                continue;
                        threads++;
                        bytes += workers[i].len;
                        if (worker_locality(&workers[i], &frac) >= 0)
                                local_bytes += (size_t)(frac * (double)workers[i].len);
                }
                printf("vnw: node %d: %d threads, %zu MiB, %.1f%% on node %d\n", node, threads, bytes >> 20,
                       bytes ? 100.0 * (double)local_bytes / (double)bytes : 0.0, node);
                if (cfg.pattern == WORKLOAD_HOT)
                        print_hot_gpa(workers, nworkers, node);
        }

        t0 = last = now_s();
        bool phase_pending = cfg.phase_s > 0;
        for (;;) {
                double t, next = last + cfg.interval_ms / 1000.0;
                char line[4096];
                size_t off;

                if (phase_pending && t0 + cfg.phase_s <= next) {
                        char busy[4096];
                        size_t boff = 0;

                        sleep_until(t0 + cfg.phase_s);
                        busy[0] = '\0';
                        for (size_t i = 0; i < nworkers; i++) {
                                bool now_active = !atomic_load(&workers[i].active);

                                atomic_store(&workers[i].active, now_active);
                                if (now_active && boff < sizeof(busy) &&
                                    (i == 0 || workers[i - 1].node != workers[i].node))
                                        boff += (size_t)snprintf(busy + boff, sizeof(busy) - boff, "%s%d",
                                                                 boff ? "," : "", workers[i].node);
                        }
                        printf("vnw: phase at t=%.1fs: busy nodes %s\n", now_s() - t0,
                               busy[0] ? busy : "(none)");
                        phase_pending = false;
                }
                sleep_until(next);
                t = now_s();
                off = (size_t)snprintf(line, sizeof(line), "vnw: t=%.1fs", t - t0);
                IDSET_FOREACH (node, &loaded) {
                        uint64_t sum = 0;

                        for (size_t i = 0; i < nworkers; i++)
                                if (workers[i].node == node)
                                        sum += atomic_load_explicit(&workers[i].touched,
                                                                    memory_order_relaxed);
                        if (off < sizeof(line))
                                off += (size_t)snprintf(
                                        line + off, sizeof(line) - off, " node%d=%.1fMiB/s", node,
                                        (double)(sum - last_bytes[node]) / (t - last) / 1048576.0);
                        last_bytes[node] = sum;
                }
                puts(line);
                last = t;
                if (cfg.duration_s > 0 && t - t0 >= cfg.duration_s)
                        break;
        }

        atomic_store(&stop_requested, true);
        for (size_t i = 0; i < nworkers; i++)
                pthread_join(workers[i].thread, NULL);
        return EXIT_SUCCESS;
}
