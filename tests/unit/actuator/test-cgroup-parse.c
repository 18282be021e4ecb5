/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure parts of cgroup-cpuset: /proc/PID/task/TID/cgroup lines and path checks. */
#include <check.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "../test-util.h"
#include "vnuma/host/cgroup-cpuset.h"

static const char hybrid[] = "12:pids:/\n"
                             "4:memory:/process_api/882c\n"
                             "3:cpuset:/machine/qemu-1-vm.libvirt-qemu/vcpu0\n"
                             "2:cpu,cpuacct:/other\n"
                             "0::/user.slice/a:b\n";

START_TEST(test_parse_v1_and_v2_lines)
{
        _cleanup_free_ char *v1 = NULL, *v2 = NULL;

        ck_assert_int_eq(cpuset_cgroup_parse_proc(hybrid, CPUSET_V1, &v1), 0);
        ck_assert_str_eq(v1, "/machine/qemu-1-vm.libvirt-qemu/vcpu0");
        /* v2 takes the "0::" line; a ':' inside the path stays part of it. */
        ck_assert_int_eq(cpuset_cgroup_parse_proc(hybrid, CPUSET_V2, &v2), 0);
        ck_assert_str_eq(v2, "/user.slice/a:b");
}
END_TEST

START_TEST(test_parse_controller_lists)
{
        _cleanup_free_ char *p = NULL;
        char *none = (char *)"untouched";

        /* cpuset inside a joint list, last entry, no trailing newline. */
        ck_assert_int_eq(cpuset_cgroup_parse_proc("5:cpu,cpuset:/joint", CPUSET_V1, &p), 0);
        ck_assert_str_eq(p, "/joint");
        /* Names that merely start with or contain "cpuset" do not count. */
        ck_assert_int_eq(cpuset_cgroup_parse_proc("5:cpusetx:/a\n6:xcpuset:/b\n", CPUSET_V1, &none),
                         -ENOENT);
        ck_assert_str_eq(none, "untouched");
        /* No v2 line in a pure v1 file, no cpuset line in a pure v2 file. */
        ck_assert_int_eq(cpuset_cgroup_parse_proc("3:cpuset:/\n", CPUSET_V2, &none), -ENOENT);
        ck_assert_int_eq(cpuset_cgroup_parse_proc("0::/\n", CPUSET_V1, &none), -ENOENT);
        ck_assert_int_eq(cpuset_cgroup_parse_proc("", CPUSET_V1, &none), -ENOENT);
        /* A named v1 hierarchy with an empty id-0 look-alike is not the v2 line. */
        ck_assert_int_eq(cpuset_cgroup_parse_proc("9:name=systemd:/\n", CPUSET_V2, &none), -ENOENT);
        ck_assert_str_eq(none, "untouched");
}
END_TEST

START_TEST(test_parse_rejects_garbage)
{
        char *none = (char *)"untouched";

        ck_assert_int_eq(cpuset_cgroup_parse_proc("garbage\n", CPUSET_V1, &none), -EBADMSG);
        ck_assert_int_eq(cpuset_cgroup_parse_proc("3:cpuset\n", CPUSET_V1, &none), -EBADMSG);
        ck_assert_int_eq(cpuset_cgroup_parse_proc("3:cpuset:\n", CPUSET_V1, &none), -EBADMSG);
        ck_assert_int_eq(cpuset_cgroup_parse_proc("3:cpuset:relative\n", CPUSET_V1, &none), -EBADMSG);
        ck_assert_str_eq(none, "untouched");
}
END_TEST

START_TEST(test_path_validity)
{
        ck_assert(cpuset_cgroup_path_is_valid("vnumad.slice"));
        ck_assert(cpuset_cgroup_path_is_valid("/vnumad.slice/vm-1"));
        ck_assert(cpuset_cgroup_path_is_valid("a/b_c/d@e"));
        ck_assert(!cpuset_cgroup_path_is_valid(NULL));
        ck_assert(!cpuset_cgroup_path_is_valid(""));
        ck_assert(!cpuset_cgroup_path_is_valid("/"));
        ck_assert(!cpuset_cgroup_path_is_valid("a//b"));
        ck_assert(!cpuset_cgroup_path_is_valid("a/"));
        ck_assert(!cpuset_cgroup_path_is_valid("a/../b"));
        ck_assert(!cpuset_cgroup_path_is_valid("./a"));
        ck_assert(!cpuset_cgroup_path_is_valid("a b"));
        ck_assert(!cpuset_cgroup_path_is_valid("a\\x2db"));
}
END_TEST

/* Reading below a procfs root: a fixture tree stands in for /proc. */
START_TEST(test_of_thread_from_fixture_root)
{
        _cleanup_free_ char *root = NULL;
        char path[256];
        _cleanup_free_ char *p = NULL;
        char *none = (char *)"untouched";
        int fd;

        ck_assert_int_eq(test_make_tmpdir("vnuma-cg", &root), 0);
        snprintf(path, sizeof(path), "%s/42", root);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        strcat(path, "/task");
        ck_assert_int_eq(mkdir(path, 0755), 0);
        strcat(path, "/43");
        ck_assert_int_eq(mkdir(path, 0755), 0);
        strcat(path, "/cgroup");
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, hybrid, strlen(hybrid)), (ssize_t)strlen(hybrid));
        close(fd);

        ck_assert_int_eq(cpuset_cgroup_of_thread(root, 42, 43, CPUSET_V1, &p), 0);
        ck_assert_str_eq(p, "/machine/qemu-1-vm.libvirt-qemu/vcpu0");
        ck_assert_int_eq(cpuset_cgroup_of_thread(root, 42, 44, CPUSET_V1, &none), -ESRCH);
        ck_assert_str_eq(none, "untouched");

        ck_assert_int_eq(unlink(path), 0);
        for (int i = 0; i < 3; i++) {
                *strrchr(path, '/') = 0;
                ck_assert_int_eq(rmdir(path), 0);
        }
        ck_assert_int_eq(rmdir(root), 0);
}
END_TEST

TEST_MAIN("cgroup-parse", test_parse_v1_and_v2_lines, test_parse_controller_lists,
          test_parse_rejects_garbage, test_path_validity, test_of_thread_from_fixture_root)
