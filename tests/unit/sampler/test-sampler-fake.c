/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sampler_sense() end to end against a generated procfs tree and the 2-node sysfs fixture: vCPU
 * nodes and runtime deltas, hinting-fault deltas per cell and host node, emulator node, CPU load,
 * a malformed sched file, a vanished vCPU thread and a vanished QEMU. The cells have no regions,
 * so nothing here calls move_pages on the made-up pids (test-sampler-live covers memory). */
#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "../test-util.h"
#include "vnuma/sampler/sampler.h"

#define VM_ID  7
#define PID    4242
#define VCPU0  4243
#define VCPU1  4244
#define N_CPUS 32

static char *root; /* a fresh tree per test (CK_FORK=no runs the tests in one process) */

static void write_file(const char *rel, const char *fmt, ...) _printf_(2, 3);
static void write_file(const char *rel, const char *fmt, ...)
{
        _cleanup_free_ char *path = NULL;
        va_list ap;
        FILE *f;

        ck_assert_int_eq(path_join_root(root, rel, &path), 0);
        for (char *slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = '\0';
                (void)mkdir(path, 0755);
                *slash = '/';
        }
        f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        ck_assert_int_eq(fclose(f), 0);
}

/* schedstat: run time, then run_delay (time spent runnable, waiting for a CPU). */
static void write_task_waited(pid_t pid, pid_t tid, int cpu, uint64_t runtime_ns, uint64_t wait_ns)
{
        char rel[96], fields[512];
        size_t n = 0;

        /* stat: field 39 is the CPU it last ran on. */
        n += (size_t)snprintf(fields + n, sizeof(fields) - n, "S");
        for (int f = 4; f <= 52; f++)
                n += (size_t)snprintf(fields + n, sizeof(fields) - n, " %d", f == 39 ? cpu : 0);
        snprintf(rel, sizeof(rel), "/%d/task/%d/stat", (int)pid, (int)tid);
        write_file(rel, "%d (CPU %d/KVM) %s\n", (int)tid, (int)tid, fields);
        snprintf(rel, sizeof(rel), "/%d/task/%d/status", (int)pid, (int)tid);
        write_file(rel, "Name:\tqemu\nTgid:\t%d\nPid:\t%d\nCpus_allowed_list:\t0-31\n", (int)pid, (int)tid);
        snprintf(rel, sizeof(rel), "/%d/task/%d/schedstat", (int)pid, (int)tid);
        write_file(rel, "%llu %llu 1\n", (unsigned long long)runtime_ns, (unsigned long long)wait_ns);
}

static void write_task(pid_t pid, pid_t tid, int cpu, uint64_t runtime_ns)
{
        write_task_waited(pid, tid, cpu, runtime_ns, 0);
}

static void write_sched(pid_t tid, uint64_t seq, uint64_t p0, uint64_t s0, uint64_t p1, uint64_t s1)
{
        char rel[96];

        snprintf(rel, sizeof(rel), "/%d/task/%d/sched", PID, (int)tid);
        write_file(rel,
                   "CPU 0/KVM (%d, #threads: 6)\n"
                   "-------------------------------------------------------------------\n"
                   "mm->numa_scan_seq                            : %20llu\n"
                   "numa_pages_migrated                          :                    0\n"
                   "numa_preferred_nid                           :                   -1\n"
                   "total_numa_faults                            :                    0\n"
                   "current_node=0, numa_group_id=%d\n"
                   "numa_faults node=0 task_private=%llu task_shared=%llu group_private=0 group_shared=0\n"
                   "numa_faults node=1 task_private=%llu task_shared=%llu group_private=0 group_shared=0\n",
                   (int)tid, (unsigned long long)seq, PID, (unsigned long long)p0, (unsigned long long)s0,
                   (unsigned long long)p1, (unsigned long long)s1);
}

/* /proc/stat where CPUs in [busy_from, busy_to) have `busy` user ticks and all have `idle`. */
static void write_stat(unsigned busy_from, unsigned busy_to, unsigned busy, unsigned idle)
{
        char text[4096];
        size_t n = 0;

        n += (size_t)snprintf(text + n, sizeof(text) - n, "cpu  0 0 0 0 0 0 0 0 0 0\n");
        for (unsigned c = 0; c < N_CPUS; c++)
                n += (size_t)snprintf(text + n, sizeof(text) - n, "cpu%u %u 0 0 %u 0 0 0 0 0 0\n", c,
                                      c >= busy_from && c < busy_to ? busy : 0, idle);
        snprintf(text + n, sizeof(text) - n, "intr 0\nctxt 0\n");
        write_file("/stat", "%s", text);
}

static void remove_tree(const char *rel)
{
        _cleanup_free_ char *path = NULL;

        ck_assert_int_eq(path_join_root(root, rel, &path), 0);
        ck_assert_int_eq(test_remove_tree(path), 0);
}

static uint64_t fake_clock_ns; /* 0: the sampler takes readings as one period apart */

static uint64_t fake_now_ns(void)
{
        return fake_clock_ns;
}

struct fixture {
        struct guest_region none;
        struct guest_cell cells[2];
        struct guest_vcpu vcpus[2];
        struct guest_thread threads[3];
        struct guest_model model;
        struct host_topology *topo;
        struct sampler *sampler;
};

static void setup(struct fixture *fx)
{
        _cleanup_free_ char *sysfs = NULL;
        struct sampler_config cfg;

        free(root);
        root = NULL;
        ck_assert_int_eq(test_make_tmpdir("test-sampler-fake", &root), 0);
        write_file("/sys/kernel/numa_balancing", "1\n");
        write_file("/thread-self/sched", "numa_faults node=0 task_private=0 task_shared=0 group_private=0 "
                                         "group_shared=0\n");
        write_stat(0, 0, 0, 100);

        *fx = (struct fixture){
                .cells = {{.id = 0}, {.id = 1}},
                .vcpus = {{.index = 0, .tid = VCPU0, .cell = 0}, {.index = 1, .tid = VCPU1, .cell = 1}},
                .threads = {{.tid = PID, .kind = GUEST_THREAD_EMULATOR, .name = (char *)"qemu"},
                            {.tid = 4245, .kind = GUEST_THREAD_EMULATOR, .name = (char *)"worker"},
                            {.tid = 4246, .kind = GUEST_THREAD_IOTHREAD, .name = (char *)"iothread0"}},
        };
        fx->model = (struct guest_model){
                .name = (char *)"fake",
                .pid = PID,
                .n_cells = 2,
                .cells = fx->cells,
                .n_vcpus = 2,
                .vcpus = fx->vcpus,
                .n_threads = 3,
                .threads = fx->threads,
        };
        ck_assert_int_eq(path_join_root(getenv("VNUMA_TEST_DATA"), "sysfs-2node", &sysfs), 0);
        ck_assert_int_eq(host_topology_read(sysfs, &fx->topo), 0);
        sampler_config_init(&cfg);
        cfg.procfs_root = root;
        cfg.sysfs_root = sysfs;
        cfg.now_ns = fake_now_ns;
        fake_clock_ns = 0;
        ck_assert_int_eq(sampler_new(&cfg, &fx->sampler), 0);
        ck_assert_str_eq(sampler_describe(fx->sampler), "residency+hinting");
}

static void teardown(struct fixture *fx)
{
        sampler_free(fx->sampler);
        host_topology_free(fx->topo);
        remove_tree("/");
}

static struct snapshot *sense(struct fixture *fx, const struct sampler_vm *vms, size_t n, uint64_t period)
{
        struct snapshot *s = NULL;

        ck_assert_int_eq(sampler_sense(fx->sampler, fx->topo, vms, n, period, 1000000000, &s), 0);
        ck_assert_uint_eq(s->period, period);
        ck_assert_uint_eq(s->period_ns, 1000000000);
        return s;
}

static const struct sampler_issue *only_issue(struct fixture *fx)
{
        const struct sampler_issue *issues;

        ck_assert_uint_eq(sampler_issues(fx->sampler, &issues), 1);
        return &issues[0];
}

START_TEST(test_fake_vm_periods)
{
        struct fixture fx;
        struct sampler_vm vm = {.id = VM_ID, .name = "fake"};
        const struct sampler_issue *issues;
        struct snapshot *s;
        const struct snap_vm *v;

        setup(&fx);
        vm.model = &fx.model;
        vm_policy_init(&vm.policy);
        vm.policy.mode = VM_POLICY_OBSERVE;

        /* Period 1: baselines. */
        write_file("/4242/stat", "4242 (qemu-system-x86) S 1 4242 4242 0 -1 0\n");
        write_task(PID, VCPU0, 3, 1000);
        write_task(PID, VCPU1, 9, 5000);
        write_task(PID, PID, 10, 0);
        write_task(PID, 4245, 12, 0);
        write_task(PID, 4246, 0, 0);
        write_sched(VCPU0, 5, 100, 10, 20, 0);
        write_sched(VCPU1, 5, 0, 0, 300, 30);
        s = sense(&fx, &vm, 1, 1);
        ck_assert_uint_eq(sampler_issues(fx.sampler, &issues), 0);
        ck_assert_uint_eq(s->host.n_nodes, 2);
        ck_assert_int_eq(s->host.node[1].id, 1);
        ck_assert_uint_eq(s->host.node[0].n_cpus, 16);
        ck_assert_uint_eq(s->host.node[0].mem_free_bytes, UINT64_C(61020344) * 1024);
        ck_assert_uint_eq(s->host.node[1].mem_free_bytes, UINT64_C(63912780) * 1024);
        ck_assert_uint_eq(s->host.distance[0][1], 21);
        ck_assert_double_eq_tol(s->host.node[0].cpu_load, 0, 1e-9);
        ck_assert_uint_eq(s->n_vms, 1);
        v = &s->vms[0];
        ck_assert_uint_eq(v->id, VM_ID);
        ck_assert_str_eq(v->name, "fake");
        ck_assert_int_eq(v->policy.mode, VM_POLICY_OBSERVE);
        ck_assert_uint_eq(v->n_cells, 2);
        ck_assert_uint_eq(v->cells[1].id, 1);
        ck_assert_uint_eq(v->n_vcpus, 2);
        ck_assert_int_eq(v->vcpus[0].node, 0);
        ck_assert_int_eq(v->vcpus[1].node, 1);
        ck_assert_uint_eq(v->vcpus[1].cell, 1);
        ck_assert_uint_eq(v->vcpus[0].runtime_ns + v->vcpus[1].runtime_ns, 0);
        ck_assert_uint_eq(v->cells[0].access[0] + v->cells[0].access[1] + v->cells[1].access[1], 0);
        ck_assert_int_eq(v->emulator_node,
                         1); /* both emulator threads on node 1; the iothread does not count */
        snapshot_free(s);

        /* Period 2: vCPU 0 moved to CPU 17 (node 0) and ran 0.4 s; CPUs 0-7 were busy the whole
         * period. One scan pass went by (seq 5 -> 6): the kernel halved each count and added the
         * pass's faults, so vCPU 0 took 30 + 5 faults on node 0 and vCPU 1 60 + 5 on node 1. */
        write_task(PID, VCPU0, 17, 1000 + 400000000);
        write_task(PID, VCPU1, 30, 5000 + 100);
        write_task(PID, PID, 1, 0);
        write_task(PID, 4245, 2, 0);
        write_task(PID, 4246, 9, 0);
        write_sched(VCPU0, 6, 50 + 30, 5 + 5, 10, 0);
        write_sched(VCPU1, 6, 0, 0, 150 + 60, 15 + 5);
        write_stat(0, 8, 100, 100);
        s = sense(&fx, &vm, 1, 2);
        ck_assert_uint_eq(sampler_issues(fx.sampler, &issues), 0);
        v = &s->vms[0];
        ck_assert_uint_eq(v->vcpus[0].runtime_ns, 400000000);
        ck_assert_uint_eq(v->vcpus[1].runtime_ns, 100);
        ck_assert_uint_eq(v->cells[0].cpu_ns[0], 400000000);
        ck_assert_uint_eq(v->cells[1].cpu_ns[1], 100);
        ck_assert_uint_eq(v->cells[0].access[0], 35);
        ck_assert_uint_eq(v->cells[0].access[1], 0);
        ck_assert_uint_eq(v->cells[1].access[0], 0);
        ck_assert_uint_eq(v->cells[1].access[1], 65);
        ck_assert_int_eq(v->emulator_node, 0);
        ck_assert_double_eq_tol(s->host.node[0].cpu_load, 8.0, 1e-9);
        ck_assert_double_eq_tol(s->host.node[1].cpu_load, 0.0, 1e-9);
        snapshot_free(s);

        /* Period 3: vCPU 1's sched text is malformed: the VM stays, without hinting data. */
        write_file("/4242/task/4244/sched", "x\ny\nnuma_faults node=1 task_private=abc task_shared=0 "
                                            "group_private=0 group_shared=0\n");
        write_sched(VCPU0, 7, 40 + 10, 5, 5, 0);
        s = sense(&fx, &vm, 1, 3);
        ck_assert_uint_eq(s->n_vms, 1);
        ck_assert_uint_eq(s->vms[0].cells[0].access[0], 0);
        ck_assert_int_eq(only_issue(&fx)->kind, SAMPLER_ISSUE_HINTING);
        ck_assert_int_eq(only_issue(&fx)->error, -EBADMSG);
        ck_assert_uint_eq(only_issue(&fx)->vm_id, VM_ID);
        ck_assert_msg(strstr(only_issue(&fx)->message, "/4242/task/4244/sched:3:"), "%s",
                      only_issue(&fx)->message);
        snapshot_free(s);

        /* Period 4: fixed; no baseline moved in period 3, so these deltas span periods 3 and 4
         * (one more pass: vCPU 0 took 10 on node 0, vCPU 1 20 on node 1). */
        write_sched(VCPU1, 7, 0, 0, 105 + 20, 10);
        s = sense(&fx, &vm, 1, 4);
        ck_assert_uint_eq(sampler_issues(fx.sampler, &issues), 0);
        ck_assert_uint_eq(s->vms[0].cells[0].access[0], 10);
        ck_assert_uint_eq(s->vms[0].cells[1].access[1], 20);
        snapshot_free(s);

        /* Period 5: vCPU 1's thread is gone while QEMU lives: stale model; the other VM is fine. */
        struct guest_vcpu other_vcpu = {.index = 0, .tid = 5001, .cell = 0};
        struct guest_model other = {
                .name = (char *)"other", .pid = 5000, .n_vcpus = 1, .vcpus = &other_vcpu};
        struct sampler_vm two[2] = {vm, {.id = 8, .name = "other", .model = &other}};

        vm_policy_init(&two[1].policy);
        write_task(5000, 5001, 25, 0); /* CPU 25 is on node 1 */
        write_file("/5000/task/5001/sched",
                   "numa_faults node=0 task_private=0 task_shared=0 group_private=0 "
                   "group_shared=0\n");
        remove_tree("/4242/task/4244");
        s = sense(&fx, two, 2, 5);
        ck_assert_uint_eq(s->n_vms, 1);
        ck_assert_uint_eq(s->vms[0].id, 8);
        ck_assert_int_eq(s->vms[0].vcpus[0].node, 1);
        ck_assert_int_eq(only_issue(&fx)->kind, SAMPLER_ISSUE_STALE);
        ck_assert_int_eq(only_issue(&fx)->error, -ENOENT);
        ck_assert_uint_eq(only_issue(&fx)->vm_id, VM_ID);
        snapshot_free(s);

        /* Period 6: QEMU exited and is a zombie until libvirt reaps it: gone, whatever failed. */
        write_file("/4242/stat", "4242 (qemu-system-x86) Z 1 4242 4242 0 -1 0\n");
        s = sense(&fx, two, 2, 6);
        ck_assert_uint_eq(s->n_vms, 1);
        ck_assert_int_eq(only_issue(&fx)->kind, SAMPLER_ISSUE_GONE);
        snapshot_free(s);

        /* Period 7: reaped, nothing left under /proc. */
        remove_tree("/4242");
        s = sense(&fx, two, 2, 7);
        ck_assert_uint_eq(s->n_vms, 1);
        ck_assert_int_eq(only_issue(&fx)->kind, SAMPLER_ISSUE_GONE);
        snapshot_free(s);

        /* The same id twice: the second is left out. No model: left out. */
        struct sampler_vm dup[3] = {two[1], two[1], {.id = 9, .name = "none"}};
        vm_policy_init(&dup[2].policy);
        s = sense(&fx, dup, 3, 8);
        ck_assert_uint_eq(s->n_vms, 1);
        ck_assert_uint_eq(sampler_issues(fx.sampler, &issues), 2);
        ck_assert_int_eq(issues[0].error, -EEXIST);
        ck_assert_int_eq(issues[1].error, -EINVAL);
        snapshot_free(s);

        /* The daemon drops the VM: its state goes. */
        uint64_t known, total;
        ck_assert_int_eq(sampler_vm_coverage(fx.sampler, VM_ID, &known, &total), 0);
        ck_assert_uint_eq(total, 0);
        sampler_forget_vm(fx.sampler, VM_ID);
        ck_assert_int_eq(sampler_vm_coverage(fx.sampler, VM_ID, &known, &total), -ENOENT);
        ck_assert_int_eq(sampler_note_moved(fx.sampler, VM_ID, 0, 0, 4096, 0), -ENOENT);
        ck_assert_int_eq(sampler_note_moved(fx.sampler, 8, 0, 0, 4096, 0), -ENOENT); /* VM 8 has no cells */
        teardown(&fx);
}
END_TEST

/* The fixture's VM with both vCPUs on CPU 3 (node 0) and their first schedstat readings: the
 * baselines of the next sense. */
static void setup_two_vcpus_on_cpu3(struct fixture *fx, struct sampler_vm *vm)
{
        setup(fx);
        vm->model = &fx->model;
        vm_policy_init(&vm->policy);
        write_file("/4242/stat", "4242 (qemu-system-x86) S 1 4242 4242 0 -1 0\n");
        write_task_waited(PID, VCPU0, 3, 7000, 900);
        write_task_waited(PID, VCPU1, 3, 8000, 100);
        for (pid_t t = PID; t <= 4246; t++)
                if (t != VCPU0 && t != VCPU1)
                        write_task(PID, t, 3, 0);
        write_sched(VCPU0, 5, 0, 0, 0, 0);
        write_sched(VCPU1, 5, 0, 0, 0, 0);
}

/* A packed VM: both busy vCPUs on CPU 3 (node 0), each running half the period and waiting for
 * the CPU the other half. Run time alone says the cell needs half a CPU each, one CPU in all,
 * which fits node 0; with the wait, each wants a whole CPU. */
START_TEST(test_fake_packed_vm_waits)
{
        struct fixture fx;
        struct sampler_vm vm = {.id = VM_ID, .name = "packed"};
        struct snapshot *s;
        const struct snap_vm *v;

        setup_two_vcpus_on_cpu3(&fx, &vm);
        s = sense(&fx, &vm, 1, 1);
        ck_assert_uint_eq(s->n_vms, 1);
        ck_assert_uint_eq(s->vms[0].vcpus[0].wait_ns + s->vms[0].vcpus[1].wait_ns, 0); /* baselines */
        ck_assert(s->vms[0].cpu_unmeasured); /* the zeros are no measurement */
        snapshot_free(s);

        write_task_waited(PID, VCPU0, 3, 7000 + 500000000, 900 + 500000000);
        write_task_waited(PID, VCPU1, 3, 8000 + 500000000, 100 + 490000000);
        s = sense(&fx, &vm, 1, 2);
        ck_assert_uint_eq(s->n_vms, 1);
        v = &s->vms[0];
        ck_assert(!v->cpu_unmeasured);
        ck_assert_int_eq(v->vcpus[0].node, 0);
        ck_assert_int_eq(v->vcpus[1].node, 0);
        ck_assert_uint_eq(v->vcpus[0].runtime_ns, 500000000);
        ck_assert_uint_eq(v->vcpus[0].wait_ns, 500000000);
        ck_assert_uint_eq(v->vcpus[1].wait_ns, 490000000);
        ck_assert_double_eq_tol((double)(v->vcpus[0].runtime_ns + v->vcpus[1].runtime_ns) / s->period_ns,
                                1.0, 1e-9);
        ck_assert_double_eq_tol(snap_cell_cpu_demand(s, v, 0), 1.0, 1e-9);
        ck_assert_double_eq_tol(snap_cell_cpu_demand(s, v, 1), 0.99, 1e-9);
        snapshot_free(s);

        /* Readings a little further apart than the period: 0.6 s run and 0.5 s waited in 1 s.
         * A thread runs on one CPU at a time, so its demand is 1 CPU, not 1.1. */
        write_task_waited(PID, VCPU0, 3, 7000 + 1100000000, 900 + 1000000000);
        s = sense(&fx, &vm, 1, 3);
        ck_assert_uint_eq(s->vms[0].vcpus[0].runtime_ns + s->vms[0].vcpus[0].wait_ns, 1100000000);
        ck_assert_double_eq_tol(snap_cell_cpu_demand(s, &s->vms[0], 0), 1.0, 1e-9);
        snapshot_free(s);

        /* A thread that started over (counters smaller than before) counts from zero. */
        write_task_waited(PID, VCPU0, 3, 1000, 2000);
        s = sense(&fx, &vm, 1, 4);
        ck_assert_uint_eq(s->n_vms, 1);
        ck_assert_uint_eq(s->vms[0].vcpus[0].runtime_ns, 1000);
        ck_assert_uint_eq(s->vms[0].vcpus[0].wait_ns, 2000);
        snapshot_free(s);
        teardown(&fx);
}
END_TEST

/* A VM's readings 1.25 s apart in a 1 s period (the sense came late for it this time): its vCPUs'
 * run and wait time count per period, so 1 s run and 0.25 s waited read as 0.8 and 0.2 s. */
START_TEST(test_fake_readings_late)
{
        struct fixture fx;
        struct sampler_vm vm = {.id = VM_ID, .name = "late"};
        struct snapshot *s;

        setup_two_vcpus_on_cpu3(&fx, &vm);
        fake_clock_ns = 10000000000;
        snapshot_free(sense(&fx, &vm, 1, 1));

        write_task_waited(PID, VCPU0, 3, 7000 + 1000000000, 900 + 250000000);
        write_task_waited(PID, VCPU1, 3, 8000 + 500000000, 100);
        fake_clock_ns += 1250000000;
        s = sense(&fx, &vm, 1, 2);
        ck_assert_uint_eq(s->vms[0].vcpus[0].runtime_ns, 800000000);
        ck_assert_uint_eq(s->vms[0].vcpus[0].wait_ns, 200000000);
        ck_assert_uint_eq(s->vms[0].vcpus[1].runtime_ns, 400000000);
        ck_assert_uint_eq(s->vms[0].cells[1].cpu_ns[0], 400000000);
        snapshot_free(s);
        teardown(&fx);
}
END_TEST

START_TEST(test_fake_host_errors)
{
        struct fixture fx;
        struct snapshot *s = NULL;

        setup(&fx);
        write_file("/stat", "cpu  1 2 3 4\ncpu0 1 2 3\n");
        ck_assert_int_eq(sampler_sense(fx.sampler, fx.topo, NULL, 0, 1, 1, &s), -EBADMSG);
        ck_assert_ptr_null(s);
        ck_assert_int_eq(only_issue(&fx)->kind, SAMPLER_ISSUE_HOST);
        ck_assert_msg(strstr(only_issue(&fx)->message, "/stat:2:"), "%s", only_issue(&fx)->message);

        /* Good again: an empty snapshot with the host only. */
        write_stat(0, 0, 0, 100);
        s = sense(&fx, NULL, 0, 2);
        ck_assert_uint_eq(s->n_vms, 0);
        ck_assert_uint_eq(s->host.n_nodes, 2);
        snapshot_free(s);
        teardown(&fx);
}
END_TEST

TEST_MAIN("sampler-fake", test_fake_vm_periods, test_fake_packed_vm_waits, test_fake_readings_late,
          test_fake_host_errors)
