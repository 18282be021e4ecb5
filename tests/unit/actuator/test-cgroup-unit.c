/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A QEMU's systemd unit from /proc/PID/cgroup (fixtures under tests/data/cgroup), the "ay" masks
 * of AllowedCPUs=/AllowedMemoryNodes=, and what the actuator sets, lifts, retries and reconciles
 * on a unit. There is no systemd here: the two D-Bus calls are replaced by a table of units, and
 * the D-Bus path itself is left to the lab (booted with systemd). */
#include <check.h>
#include <string.h>

#include "../test-util.h"
#include "actuator-internal.h"
#include "actuator-units.h"
#include "vnuma/host/cgroup-unit.h"
#include "vnuma/model/snapshot.h"

static char *fixture_root(const char *sub)
{
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/cgroup/%s", getenv("VNUMA_TEST_DATA"), sub), 0);
        return p;
}

START_TEST(test_unit_of_proc_cgroup)
{
        _cleanup_free_ char *proc = fixture_root("proc");
        struct {
                pid_t pid;
                int r;
                const char *unit, *path;
        } cases[] = {
                {100, 0, "vm1.scope", "/machine.slice/vm1.scope"},
                /* Hybrid: the name=systemd line; the cpuset line (root) does not matter. */
                {101, 0, "qemu-web.service", "/system.slice/qemu-web.service"},
                {102, -ENOENT, NULL, NULL}, /* the root cgroup */
                {103, 0, "session-3.scope", "/user.slice/user-1000.slice/session-3.scope"},
                {104, -ENOENT, NULL, NULL}, /* a cgroup made by hand */
                {105, 0, "machine-qemu\\x2d1\\x2dvm.scope",
                 "/machine.slice/machine-qemu\\x2d1\\x2dvm.scope"},
                {106, -EBADMSG, NULL, NULL},
                {107, -ESRCH, NULL, NULL}, /* no such process */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *unit = (char *)"untouched", *path = (char *)"untouched";

                ck_assert_int_eq(cgroup_unit_of_pid(proc, cases[i].pid, &unit, &path), cases[i].r);
                if (cases[i].r < 0) {
                        ck_assert_str_eq(unit, "untouched");
                        ck_assert_str_eq(path, "untouched");
                        continue;
                }
                ck_assert_str_eq(unit, cases[i].unit);
                ck_assert_str_eq(path, cases[i].path);
                free(unit);
                free(path);
        }
}
END_TEST

START_TEST(test_unit_names_and_text)
{
        char *unit = NULL;

        ck_assert(cgroup_unit_name_is_valid("run-r0123.scope"));
        ck_assert(cgroup_unit_name_is_valid("qemu@vm1.service"));
        ck_assert(!cgroup_unit_name_is_valid("machine.slice"));
        ck_assert(!cgroup_unit_name_is_valid(".scope"));
        ck_assert(!cgroup_unit_name_is_valid("a b.scope"));
        ck_assert(!cgroup_unit_name_is_valid("../x.scope"));
        ck_assert(!cgroup_unit_name_is_valid(NULL));
        /* The last unit of the path wins (a scope inside a service's delegated tree). */
        ck_assert_int_eq(cgroup_unit_parse_proc("0::/system.slice/a.service/b.scope/leaf\n", &unit, NULL),
                         0);
        ck_assert_str_eq(unit, "b.scope");
        free(unit);
        ck_assert_int_eq(cgroup_unit_parse_proc("", &unit, NULL), -ENOENT);
        ck_assert_int_eq(cgroup_unit_parse_proc("0::relative.scope\n", &unit, NULL), -EBADMSG);
        /* A named hierarchy other than systemd's is not looked at. */
        ck_assert_int_eq(cgroup_unit_parse_proc("5:name=other:/x.scope\n0::/\n", &unit, NULL), -ENOENT);
}
END_TEST

START_TEST(test_sole_process)
{
        _cleanup_free_ char *sys = fixture_root("sys");

        ck_assert_int_eq(cgroup_unit_sole_process(sys, "/machine.slice/vm1.scope", 100), 1);
        ck_assert_int_eq(cgroup_unit_sole_process(sys, "/machine.slice/vm1.scope", 101), 0);
        /* A login session's scope holds the shell too. */
        ck_assert_int_eq(cgroup_unit_sole_process(sys, "/user.slice/user-1000.slice/session-3.scope", 103),
                         0);
        /* v1 name=systemd mount; a process in a sub-cgroup of the unit counts. */
        ck_assert_int_eq(cgroup_unit_sole_process(sys, "/system.slice/qemu-web.service", 101), 0);
        ck_assert_int_eq(cgroup_unit_sole_process(sys, "/system.slice/qemu-web.service/helper", 4711), 1);
        ck_assert_int_eq(cgroup_unit_sole_process(sys, "/machine.slice/gone.scope", 100), -ENOENT);
        ck_assert_int_eq(cgroup_unit_sole_process(sys, "/machine.slice/../x.scope", 100), -EINVAL);
}
END_TEST

START_TEST(test_masks)
{
        uint8_t buf[CGROUP_UNIT_MASK_MAX];
        struct idset s = IDSET_EMPTY, back;

        ck_assert_uint_eq(cgroup_unit_mask_from_idset(&s, buf), 0); /* empty: no restriction */
        idset_add(&s, 0);
        idset_add(&s, 9);
        ck_assert_uint_eq(cgroup_unit_mask_from_idset(&s, buf), 2);
        ck_assert_uint_eq(buf[0], 0x01);
        ck_assert_uint_eq(buf[1], 0x02);
        ck_assert_int_eq(cgroup_unit_mask_to_idset(buf, 2, &back), 0);
        ck_assert(idset_equal(&s, &back));
        idset_add(&s, IDSET_MAX - 1);
        ck_assert_uint_eq(cgroup_unit_mask_from_idset(&s, buf), CGROUP_UNIT_MASK_MAX);
        ck_assert_uint_eq(buf[CGROUP_UNIT_MASK_MAX - 1], 0x80);
        ck_assert_int_eq(cgroup_unit_mask_to_idset(buf, CGROUP_UNIT_MASK_MAX, &back), 0);
        ck_assert(idset_equal(&s, &back));
        {
                uint8_t big[CGROUP_UNIT_MASK_MAX + 1] = {[CGROUP_UNIT_MASK_MAX] = 1};

                ck_assert_int_eq(cgroup_unit_mask_to_idset(big, sizeof(big), &back), -ERANGE);
        }
}
END_TEST

/* systemd, as far as these tests need it: a few units and their two properties. */
static struct fake_unit {
        const char *name;
        struct idset cpus, mems;
} units[4];
static unsigned n_set_calls;
static int set_fails; /* -errno for every set while non-zero */

static struct fake_unit *fake_find(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (units[i].name && streq(units[i].name, name))
                        return &units[i];
        return NULL;
}

static int fake_set(const char *unit, const struct idset *cpus, const struct idset *mems, char **ret_error)
{
        struct fake_unit *u = fake_find(unit);

        n_set_calls++;
        if (set_fails)
                return set_fails;
        if (!u)
                return -ENOENT;
        u->cpus = *cpus;
        u->mems = *mems;
        return 0;
}

static int fake_get(const char *unit, struct idset *ret_cpus, struct idset *ret_mems, char **ret_error)
{
        struct fake_unit *u = fake_find(unit);

        if (!u)
                return -ENOENT;
        *ret_cpus = u->cpus;
        *ret_mems = u->mems;
        return 0;
}

static char *state_dir;

static struct actuator *new_actuator(void)
{
        _cleanup_free_ char *proc = fixture_root("proc"), *sys = fixture_root("sys");
        struct actuator_config cfg;
        struct actuator *a = NULL;

        actuator_config_init(&cfg);
        cfg.procfs_root = proc;
        cfg.sysfs_root = sys;
        cfg.state_dir = state_dir;
        ck_assert_int_eq(actuator_new(&cfg, &a), 0);
        a->unit_set = fake_set;
        a->unit_get = fake_get;
        return a;
}

static void setup(void)
{
        ck_assert_int_eq(test_make_tmpdir("vnuma-units", &state_dir), 0);
        memset(units, 0, sizeof(units));
        units[0].name = "vm1.scope";
        units[1].name = "session-3.scope";
        n_set_calls = 0;
        set_fails = 0;
}

static void teardown(void)
{
        (void)test_remove_tree(state_dir);
        free(state_dir);
}

/* Two host nodes: 0 with CPUs 0-1, 1 with CPUs 2-3. */
static struct snapshot *two_nodes(void)
{
        struct snapshot *s = NULL;

        ck_assert_int_eq(snapshot_new(1, &s), 0);
        s->host.n_nodes = 2;
        s->host.node[0].id = 0;
        s->host.node[1].id = 1;
        idset_parse("0-1", &s->host.node[0].cpus);
        idset_parse("2-3", &s->host.node[1].cpus);
        return s;
}

static int bind_cell(struct actuator *a, const struct snapshot *s, uint64_t id, pid_t pid, int cell,
                     struct actuator_result *res)
{
        static struct guest_cell cells[2] = {{.id = 0}, {.id = 1}};
        struct guest_model m = {.name = (char *)"vm", .pid = pid, .n_cells = 2, .cells = cells};
        struct actuator_vm vm = {.id = id, .model = &m};
        struct action act = {.type = ACTION_SET_REGION_POLICY,
                             .vm_id = id,
                             .cell = cell,
                             .region_policy = REGION_POLICY_BIND,
                             .node_mask = 0x2};

        *res = (struct actuator_result){};
        return actuator_apply(a, s, &act, &vm, res);
}

static bool record_is(const char *unit, const char *want)
{
        _cleanup_free_ char *text = NULL;

        if (read_full_file_at(state_dir, unit, 4096, &text, NULL) < 0)
                return want == NULL;
        return want && streq(text, want);
}

static bool unit_is(const char *unit, const char *cpus, const char *mems)
{
        struct fake_unit *u = fake_find(unit);
        struct idset c, m;

        ck_assert_int_eq(idset_parse(cpus, &c), 0);
        ck_assert_int_eq(idset_parse(mems, &m), 0);
        return u && idset_equal(&u->cpus, &c) && idset_equal(&u->mems, &m);
}

/* strict on both cells sets the unit (recorded first); a policy change lifts it. */
START_TEST(test_unit_set_and_lifted)
{
        _cleanup_(actuator_freep) struct actuator *a = new_actuator();
        _cleanup_(snapshot_freep) struct snapshot *s = two_nodes();
        struct actuator_result res;

        ck_assert_int_eq(bind_cell(a, s, 1, 100, 0, &res), 0);
        ck_assert_uint_eq(n_set_calls, 0); /* cell 1 still open: nothing to restrict */
        ck_assert_ptr_null(res.notice);
        ck_assert_int_eq(bind_cell(a, s, 1, 100, 1, &res), 0);
        ck_assert_uint_eq(n_set_calls, 1);
        ck_assert(unit_is("vm1.scope", "2-3", "1"));
        ck_assert(record_is("vm1.scope", "cpus=2-3\nmems=1\n"));
        ck_assert_ptr_null(res.notice);

        ck_assert_int_eq(actuator_forget_vm(a, 1), 0);
        ck_assert(unit_is("vm1.scope", "", ""));
        ck_assert(record_is("vm1.scope", NULL));
        ck_assert_int_eq(actuator_tick(a, NULL), 0);
}
END_TEST

/* A lift that fails is kept, said, and retried until it works. */
START_TEST(test_failed_lift_is_retried)
{
        _cleanup_(actuator_freep) struct actuator *a = new_actuator();
        _cleanup_(snapshot_freep) struct snapshot *s = two_nodes();
        struct actuator_result res;
        char *msg = NULL;

        ck_assert_int_eq(bind_cell(a, s, 1, 100, 0, &res), 0);
        ck_assert_int_eq(bind_cell(a, s, 1, 100, 1, &res), 0);
        set_fails = -EIO;
        ck_assert_int_eq(actuator_forget_vm(a, 1), -EAGAIN);
        ck_assert(unit_is("vm1.scope", "2-3", "1"));
        ck_assert(record_is("vm1.scope", "cpus=2-3\nmems=1\n"));
        ck_assert_int_eq(actuator_tick(a, &msg), 1);
        ck_assert_ptr_nonnull(msg);
        ck_assert_ptr_nonnull(strstr(msg, "vm1.scope"));
        ck_assert_ptr_nonnull(strstr(msg, "AllowedMemoryNodes=1"));
        free(msg);
        msg = NULL;
        ck_assert_int_eq(actuator_tick(a, &msg), 1); /* 3rd attempt: not said again */
        ck_assert_ptr_null(msg);
        set_fails = 0;
        ck_assert_int_eq(actuator_tick(a, &msg), 0);
        ck_assert(unit_is("vm1.scope", "", ""));
        ck_assert(record_is("vm1.scope", NULL));

        /* Restricted again before a queued lift ran: the lift must not undo it. */
        ck_assert_int_eq(bind_cell(a, s, 2, 100, 0, &res), 0);
        ck_assert_int_eq(bind_cell(a, s, 2, 100, 1, &res), 0);
        set_fails = -EIO;
        ck_assert_int_eq(actuator_forget_vm(a, 2), -EAGAIN);
        set_fails = 0;
        ck_assert_int_eq(bind_cell(a, s, 3, 100, 0, &res), 0);
        ck_assert_int_eq(bind_cell(a, s, 3, 100, 1, &res), 0);
        ck_assert_int_eq(actuator_tick(a, NULL), 0);
        ck_assert(unit_is("vm1.scope", "2-3", "1"));
        ck_assert(record_is("vm1.scope", "cpus=2-3\nmems=1\n"));
}
END_TEST

/* A new daemon lifts what an earlier one recorded, unless someone changed the unit since. */
START_TEST(test_reconcile_at_start)
{
        _cleanup_(actuator_freep) struct actuator *a = NULL;
        _cleanup_free_ char *p1 = NULL, *p2 = NULL, *p3 = NULL;
        FILE *f;

        ck_assert_int_ge(asprintf(&p1, "%s/vm1.scope", state_dir), 0);
        ck_assert_int_ge(asprintf(&p2, "%s/session-3.scope", state_dir), 0);
        ck_assert_int_ge(asprintf(&p3, "%s/gone.scope", state_dir), 0);
        ck_assert_ptr_nonnull(f = fopen(p1, "w"));
        fputs("cpus=0-1\nmems=0\n", f);
        fclose(f);
        ck_assert_ptr_nonnull(f = fopen(p2, "w"));
        fputs("cpus=0-1\nmems=0\n", f);
        fclose(f);
        ck_assert_ptr_nonnull(f = fopen(p3, "w"));
        fputs("cpus=\nmems=1\n", f);
        fclose(f);
        idset_parse("0-1", &units[0].cpus);
        idset_parse("0", &units[0].mems);
        idset_parse("0-1", &units[1].cpus);
        idset_parse("1", &units[1].mems); /* changed by the admin after vnumad set it */

        a = new_actuator();
        ck_assert_int_eq(actuator_tick(a, NULL), 0);
        ck_assert(unit_is("vm1.scope", "", ""));
        ck_assert(unit_is("session-3.scope", "0-1", "1"));
        ck_assert(record_is("vm1.scope", NULL));
        ck_assert(record_is("session-3.scope", NULL));
        ck_assert(record_is("gone.scope", NULL));
}
END_TEST

/* No unit of its own, a shared unit, or no systemd: nothing is set, and it is said once. */
START_TEST(test_migration_only)
{
        _cleanup_(actuator_freep) struct actuator *a = new_actuator();
        _cleanup_(snapshot_freep) struct snapshot *s = two_nodes();
        struct actuator_result res;

        ck_assert_int_eq(bind_cell(a, s, 1, 102, 0, &res), 0);
        ck_assert_ptr_nonnull(res.notice);
        ck_assert_ptr_nonnull(strstr(res.notice, "migration only"));
        ck_assert_ptr_nonnull(strstr(res.notice, "no systemd unit"));
        ck_assert_int_eq(bind_cell(a, s, 1, 102, 1, &res), 0);
        ck_assert_ptr_null(res.notice);

        ck_assert_int_eq(bind_cell(a, s, 2, 103, 0, &res), 0);
        ck_assert_ptr_nonnull(res.notice);
        ck_assert_ptr_nonnull(strstr(res.notice, "other processes"));
        ck_assert_int_eq(bind_cell(a, s, 2, 103, 1, &res), 0);

        set_fails = -ENOTCONN;
        ck_assert_int_eq(bind_cell(a, s, 3, 100, 0, &res), 0);
        ck_assert_int_eq(bind_cell(a, s, 3, 100, 1, &res), 0);
        ck_assert_ptr_nonnull(res.notice);
        ck_assert_ptr_nonnull(strstr(res.notice, "vm1.scope"));
        ck_assert(record_is("vm1.scope", NULL));

        ck_assert(unit_is("vm1.scope", "", ""));
        ck_assert(unit_is("session-3.scope", "", ""));
        ck_assert_int_eq(actuator_forget_vm(a, 1), 0);
        ck_assert_int_eq(actuator_forget_vm(a, 2), 0);
        ck_assert_int_eq(actuator_forget_vm(a, 3), 0);
        ck_assert_int_eq(actuator_tick(a, NULL), 0);
}
END_TEST

static Suite *suite(void)
{
        Suite *s = suite_create("cgroup-unit");
        TCase *pure = tcase_create("pure"), *units_tc = tcase_create("units");

        tcase_add_test(pure, test_unit_of_proc_cgroup);
        tcase_add_test(pure, test_unit_names_and_text);
        tcase_add_test(pure, test_sole_process);
        tcase_add_test(pure, test_masks);
        tcase_add_checked_fixture(units_tc, setup, teardown);
        tcase_add_test(units_tc, test_unit_set_and_lifted);
        tcase_add_test(units_tc, test_failed_lift_is_retried);
        tcase_add_test(units_tc, test_reconcile_at_start);
        tcase_add_test(units_tc, test_migration_only);
        suite_add_tcase(s, pure);
        suite_add_tcase(s, units_tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
