/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cgroup-cpuset and the region-policy actuator against the real cpuset hierarchy (v1 on the build
 * machine and in the lab, v2 where the host is unified). Every cgroup made here lives under
 * vnumad-test-PID*.slice and is removed again. Exits 77 (meson: skipped) with a message when the
 * machine has no writable cpuset hierarchy or we are not root. */
#include <check.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "actuator-test.h"
#include "vnuma/actuator/actuator.h"
#include "vnuma/host/cgroup-cpuset.h"
#include "vnuma/model/plan.h"
#include "vnuma/model/snapshot.h"

static enum cpuset_version version;
static struct idset root_cpus, root_mems;

/* "vnumad-test-PID" of the runner (set before Check forks the tests), so parallel runs do not
 * collide and main() can sweep up after a failed test. */
static char prefix[64];

static char *test_path(const char *suffix)
{
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s%s", prefix, suffix), 0);
        return p;
}

/* Every cgroup the tests make, deepest first. */
static const char *const made[] = {
        ".slice/a",       ".slice/b",       ".slice",       "-fresh.slice/b",       "-fresh.slice",
        "-enter.slice/p", "-enter.slice/q", "-enter.slice", "-act.slice/test_vm_1", "-act.slice",
        "-probe.slice",
};

static void sweep(void)
{
        for (size_t i = 0; i < ELEMENTSOF(made); i++) {
                char path[128];

                snprintf(path, sizeof(path), "%s%s", prefix, made[i]);
                (void)cpuset_cgroup_remove(path);
        }
}

static void sleep_ms(long ms)
{
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000};

        nanosleep(&ts, NULL);
}

/* rmdir of a cgroup whose last task was just reaped can race the kernel's bookkeeping. */
static void remove_soon(const char *path)
{
        int r = -EBUSY;

        for (int i = 0; i < 100 && r == -EBUSY; i++) {
                r = cpuset_cgroup_remove(path);
                if (r == -EBUSY)
                        sleep_ms(10);
        }
        ck_assert_int_eq(r, 0);
}

/* A child process with two threads, both sleeping until killed. */
static void *child_thread(void *arg)
{
        for (;;)
                pause();
        return NULL;
}

static pid_t spawn_child(pid_t tids[2])
{
        _cleanup_free_ pid_t *list = NULL;
        size_t n = 0;
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                pthread_t t;

                if (pthread_create(&t, NULL, child_thread, NULL) != 0)
                        _exit(1);
                for (;;)
                        pause();
        }
        for (int i = 0; i < 500 && n != 2; i++) {
                free(TAKE_PTR(list));
                ck_assert_int_eq(proc_task_list(NULL, pid, &list, &n), 0);
                if (n != 2)
                        sleep_ms(2);
        }
        ck_assert_uint_eq(n, 2);
        tids[0] = list[0];
        tids[1] = list[1];
        ck_assert_int_eq(tids[0], pid);
        return pid;
}

static void reap_child(pid_t pid)
{
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
}

static void assert_in(pid_t pid, pid_t tid, const char *path)
{
        _cleanup_free_ char *now = NULL;

        ck_assert_int_eq(cpuset_cgroup_of_thread(NULL, pid, tid, version, &now), 0);
        ck_assert_str_eq(now + (now[0] == '/' && path[0] != '/'), path);
}

START_TEST(test_set_mems_create_modify_reject)
{
        _cleanup_free_ char *parent = test_path(".slice");
        _cleanup_free_ char *a = test_path(".slice/a");
        _cleanup_free_ char *b = test_path(".slice/b");
        _cleanup_free_ char *fresh = test_path("-fresh.slice");
        _cleanup_free_ char *fresh_b = test_path("-fresh.slice/b");
        struct idset mems, cpus, bad = test_idset_of(60);
        bool created = false;

        ck_assert_int_eq(cpuset_cgroup_set_mems(a, &root_mems, &created), 0);
        ck_assert(created);
        ck_assert_int_eq(cpuset_cgroup_get_mems(a, &mems), 0);
        ck_assert(idset_equal(&mems, &root_mems));
        ck_assert_int_eq(cpuset_cgroup_get_effective(a, &cpus, &mems), 0);
        ck_assert(idset_equal(&cpus, &root_cpus)); /* v1 copies the parent's CPUs; v2 inherits them */
        ck_assert(idset_equal(&mems, &root_mems));

        /* Again: it exists now and is modified in place. */
        ck_assert_int_eq(cpuset_cgroup_set_mems(a, &root_mems, &created), 0);
        ck_assert(!created);

        /* Node 60 does not exist: refused, the old value stays. */
        ck_assert_int_lt(cpuset_cgroup_set_mems(a, &bad, &created), 0);
        ck_assert_int_eq(cpuset_cgroup_get_mems(a, &mems), 0);
        ck_assert(idset_equal(&mems, &root_mems));

        /* A new leaf that cannot take its mems is not left behind; neither is a new parent. */
        ck_assert_int_lt(cpuset_cgroup_set_mems(b, &bad, NULL), 0);
        ck_assert_int_eq(cpuset_cgroup_get_mems(b, &mems), -ENOENT);
        ck_assert_int_lt(cpuset_cgroup_set_mems(fresh_b, &bad, NULL), 0);
        ck_assert_int_eq(cpuset_cgroup_get_mems(fresh, &mems), -ENOENT);

        ck_assert_int_eq(cpuset_cgroup_set_mems("../escape", &root_mems, NULL), -EINVAL);
        struct idset empty = IDSET_EMPTY;
        ck_assert_int_eq(cpuset_cgroup_set_mems(a, &empty, NULL), -EINVAL);

        ck_assert_int_eq(cpuset_cgroup_remove(a), 0);
        ck_assert_int_eq(cpuset_cgroup_remove(a), 0); /* already gone */
        ck_assert_int_eq(cpuset_cgroup_remove(parent), 0);
        ck_assert_int_eq(cpuset_cgroup_get_mems(parent, &mems), -ENOENT);
}
END_TEST

START_TEST(test_enter_moves_keeps_affinity_and_rolls_back)
{
        _cleanup_free_ char *parent = test_path("-enter.slice");
        _cleanup_free_ char *p = test_path("-enter.slice/p");
        _cleanup_free_ char *q = test_path("-enter.slice/q");
        pid_t tids[2], child, pair[2];
        struct idset pinned = test_idset_of(idset_next(&root_cpus, 0));
        unsigned moved = 0;

        child = spawn_child(tids);
        /* The second thread is pinned, as a vCPU would be: the move must keep that. */
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(idset_next(&root_cpus, 0), &set);
        ck_assert_int_eq(sched_setaffinity(tids[1], sizeof(set), &set), 0);

        ck_assert_int_eq(cpuset_cgroup_set_mems(p, &root_mems, NULL), 0);
        ck_assert_int_eq(cpuset_cgroup_enter(NULL, p, child, tids, 2, &moved), 0);
        ck_assert_uint_eq(moved, 2);
        assert_in(child, tids[0], p);
        assert_in(child, tids[1], p);
        ck_assert_int_eq(sched_getaffinity(tids[1], sizeof(set), &set), 0);
        ck_assert_int_eq(CPU_COUNT(&set), 1);
        ck_assert(CPU_ISSET(idset_next(&pinned, 0), &set));
        ck_assert_int_eq(cpuset_cgroup_remove(p), -EBUSY);

        /* A gone thread after a live one: the live one goes back to p, where it was. */
        ck_assert_int_eq(cpuset_cgroup_set_mems(q, &root_mems, NULL), 0);
        pair[0] = tids[0];
        pair[1] = test_dead_tid();
        moved = 99;
        /* (v1 moves the live thread and back; v2 notices before moving the process.) */
        ck_assert_int_eq(cpuset_cgroup_enter(NULL, q, child, pair, 2, &moved), -ESRCH);
        ck_assert_uint_eq(moved, 99);
        assert_in(child, tids[0], p);
        assert_in(child, tids[1], p);
        ck_assert_int_eq(cpuset_cgroup_enter(NULL, q, child, NULL, 0, &moved), -EINVAL);

        reap_child(child);
        remove_soon(q);
        remove_soon(p);
        ck_assert_int_eq(cpuset_cgroup_remove(parent), 0);
}
END_TEST

static struct snapshot *one_node_snapshot(void)
{
        struct snapshot *s = NULL;

        ck_assert_int_eq(snapshot_new(1, &s), 0);
        s->host.n_nodes = 1;
        s->host.node[0].id = idset_next(&root_mems, 0);
        s->host.node[0].cpus = root_cpus;
        return s;
}

static struct action region_policy(int cell, enum region_policy rp, uint32_t mask)
{
        return (struct action){
                .type = ACTION_SET_REGION_POLICY,
                .vm_id = 11,
                .cell = cell,
                .node_mask = mask,
                .region_policy = rp,
        };
}

START_TEST(test_actuator_region_policy)
{
        _cleanup_free_ char *parent = test_path("-act.slice");
        _cleanup_free_ char *leaf = NULL; /* "NAME-PID": set once the pid is known */
        char suffix[64];
        _cleanup_(snapshot_freep) struct snapshot *s = one_node_snapshot();
        _cleanup_(actuator_freep) struct actuator *a = NULL;
        struct actuator_config cfg;
        struct actuator_result res;
        struct guest_cell cells[2] = {{.id = 0}, {.id = 1}};
        struct guest_model model = {.name = (char *)"unused", .n_cells = 2, .cells = cells};
        struct actuator_vm vm = {.id = 11, .model = &model, .name = "test vm/1"};
        struct action act;
        struct idset mems, parent_mems;
        pid_t tids[2];
        const char *line;

        actuator_config_init(&cfg);
        cfg.cgroup_parent = parent;
        ck_assert_int_eq(actuator_new(&cfg, &a), 0);

        /* The process is gone before the threads can move: the new cgroup is removed again. */
        model.pid = test_dead_tid();
        snprintf(suffix, sizeof(suffix), "-act.slice/test_vm_1-%d", (int)model.pid);
        leaf = test_path(suffix);
        act = region_policy(0, REGION_POLICY_BIND, 0x1);
        ck_assert_int_eq(actuator_apply(a, s, &act, &vm, &res), 0); /* cell 1 still open: no cgroup */
        act = region_policy(1, REGION_POLICY_BIND, 0x1);
        ck_assert_int_eq(actuator_apply(a, s, &act, &vm, &res), -ESRCH);
        ck_assert_int_eq(cpuset_cgroup_get_mems(leaf, &mems), -ENOENT);
        ck_assert_int_eq(actuator_forget_vm(a, 11), 0);

        model.pid = spawn_child(tids);
        free(leaf);
        snprintf(suffix, sizeof(suffix), "-act.slice/test_vm_1-%d", (int)model.pid);
        leaf = test_path(suffix);
        /* One cell bound, the other open: the VM may still use every node, so no cgroup yet. */
        act = region_policy(0, REGION_POLICY_BIND, 0x1);
        ck_assert_int_eq(actuator_apply(a, s, &act, &vm, &res), 0);
        ck_assert_uint_eq(res.threads_moved, 0);
        ck_assert_int_eq(cpuset_cgroup_get_mems(leaf, &mems), -ENOENT);
        ck_assert_uint_eq(actuator_recorded(a, &line, 1), 1);
        ck_assert_ptr_nonnull(strstr(line, "VM needs no cpuset: ok"));

        /* Both bound: the cgroup appears with their nodes and takes every thread. */
        act = region_policy(1, REGION_POLICY_INTERLEAVE, 0x1);
        ck_assert_int_eq(actuator_apply(a, s, &act, &vm, &res), 0);
        ck_assert_uint_eq(res.threads_moved, 2);
        ck_assert_int_eq(cpuset_cgroup_get_mems(leaf, &mems), 0);
        struct idset bound = test_idset_of(s->host.node[0].id);
        ck_assert(idset_equal(&mems, &bound));
        assert_in(model.pid, tids[0], leaf);
        assert_in(model.pid, tids[1], leaf);
        ck_assert_uint_eq(actuator_recorded(a, &line, 1), 1);
        ck_assert_ptr_nonnull(strstr(line, "set-region-policy vm 11 cell 1: cgroup "));
        snprintf(suffix, sizeof(suffix), "/test_vm_1-%d cpuset.mems=", (int)model.pid);
        ck_assert_ptr_nonnull(strstr(line, suffix));

        /* Lifting one cell's restriction opens the cgroup to the parent's nodes; threads stay. */
        act = region_policy(0, REGION_POLICY_DEFAULT, 0);
        ck_assert_int_eq(actuator_apply(a, s, &act, &vm, &res), 0);
        ck_assert_int_eq(cpuset_cgroup_get_mems(leaf, &mems), 0);
        ck_assert_int_eq(cpuset_cgroup_get_effective(parent, NULL, &parent_mems), 0);
        ck_assert(idset_equal(&mems, &parent_mems));
        assert_in(model.pid, tids[1], leaf);

        /* Malformed: bind to no node, or no snapshot to map positions to ids. */
        act = region_policy(0, REGION_POLICY_BIND, 0);
        ck_assert_int_eq(actuator_apply(a, s, &act, &vm, &res), -EINVAL);
        act = region_policy(0, REGION_POLICY_BIND, 0x1);
        ck_assert_int_eq(actuator_apply(a, NULL, &act, &vm, &res), -EINVAL);
        act = region_policy(5, REGION_POLICY_BIND, 0x1);
        ck_assert_int_eq(actuator_apply(a, s, &act, &vm, &res), -ENOENT);

        /* While the VM runs its cgroup cannot go; once it is gone, forgetting it removes it. */
        ck_assert_int_eq(actuator_forget_vm(a, 11), -EBUSY);
        reap_child(model.pid);
        remove_soon(leaf);
        ck_assert_int_eq(cpuset_cgroup_remove(parent), 0);
}
END_TEST

int main(void)
{
        _cleanup_free_ char *probe = NULL;
        Suite *s = suite_create("cgroup-cpuset");
        TCase *tc = tcase_create("core");
        SRunner *sr;
        int r, failed;

        if (geteuid() != 0) {
                fprintf(stderr, "SKIP: cgroup tests need root to create cpuset cgroups\n");
                return 77;
        }
        r = cpuset_cgroup_probe(&version);
        if (r < 0) {
                fprintf(stderr, "SKIP: no cpuset cgroup controller mounted (%s)\n", strerror(-r));
                return 77;
        }
        r = cpuset_cgroup_get_effective("", &root_cpus, &root_mems);
        if (r < 0) {
                fprintf(stderr, "SKIP: cannot read the cpuset root (%s)\n", strerror(-r));
                return 77;
        }
        /* Not test_path(): Check's asserts cannot run outside a test. */
        snprintf(prefix, sizeof(prefix), "vnumad-test-%d", (int)getpid());
        if (asprintf(&probe, "%s-probe.slice", prefix) < 0)
                return EXIT_FAILURE;
        r = cpuset_cgroup_set_mems(probe, &root_mems, NULL);
        if (r == -EPERM || r == -EACCES || r == -EROFS) {
                fprintf(stderr, "SKIP: the cpuset hierarchy is not writable (%s)\n", strerror(-r));
                return 77;
        }
        if (r < 0 || cpuset_cgroup_remove(probe) < 0) {
                fprintf(stderr, "cannot create a cpuset cgroup: %s\n", strerror(-r));
                return EXIT_FAILURE;
        }
        fprintf(stderr, "cpuset on cgroup v%d\n", (int)version);
        fflush(stderr);

        tcase_add_test(tc, test_set_mems_create_modify_reject);
        tcase_add_test(tc, test_enter_moves_keeps_affinity_and_rolls_back);
        tcase_add_test(tc, test_actuator_region_policy);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        sweep();
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
