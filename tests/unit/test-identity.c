/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What vnumad trusts about a QEMU: the pidfd that holds its process, the socket checks before
 * connecting, the peer's pid, and the strings it only shows (sanitised) or exports (escaped). */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-util.h"
#include "vnuma/basic/pidfd-util.h"
#include "vnuma/basic/string-sanitize.h"
#include "vnuma/host/proc-task.h"
#include "vnuma/qmp/qmp-unix.h"
#include "vnuma/report/metrics-text.h"

/* A real child that runs until its pipe is closed, then exits. */
static pid_t spawn_waiting_child(int *ret_write_end)
{
        int p[2];
        pid_t pid;
        char c;

        ck_assert_int_eq(pipe(p), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                close(p[1]);
                (void)!read(p[0], &c, 1);
                _exit(0);
        }
        close(p[0]);
        *ret_write_end = p[1];
        return pid;
}

START_TEST(test_pidfd_child_exits)
{
        int wr, fd = -1, status;
        pid_t pid = spawn_waiting_child(&wr);

        if (pidfd_open_pid(pid, &fd) == -ENOSYS) {
                fprintf(stderr, "pidfd_open is not available here (valgrind?): pidfd checks skipped\n");
                close(wr);
                waitpid(pid, NULL, 0);
                return;
        }
        ck_assert_int_eq(pidfd_check_alive(fd), 0);
        close(wr); /* the child exits */
        /* Not reaped yet: a zombie is gone for the check already. */
        for (int i = 0; i < 500 && pidfd_check_alive(fd) == 0; i++)
                usleep(10000);
        ck_assert_int_eq(pidfd_check_alive(fd), -ESRCH);
        ck_assert_int_eq(kill(pid, 0), 0); /* the pid still names the zombie */
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_int_eq(pidfd_check_alive(fd), -ESRCH);
        close(fd);

        ck_assert_int_eq(pidfd_open_pid(pid, &fd), -ESRCH); /* reaped: nothing to open */
        ck_assert_int_eq(pidfd_open_pid(0, &fd), -ESRCH);
        ck_assert_int_eq(pidfd_check_alive(-1), -EBADF);
}
END_TEST

START_TEST(test_pidfd_killed)
{
        int wr, fd = -1;
        pid_t pid = spawn_waiting_child(&wr);

        if (pidfd_open_pid(pid, &fd) == -ENOSYS) {
                fprintf(stderr, "pidfd_open is not available here (valgrind?): pidfd checks skipped\n");
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                return;
        }
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
        ck_assert_int_eq(pidfd_check_alive(fd), -ESRCH);
        close(fd);
        close(wr);
}
END_TEST

START_TEST(test_task_of)
{
        int wr;
        pid_t child = spawn_waiting_child(&wr);

        ck_assert_int_eq(proc_task_exists("/proc", getpid(), getpid()), 0);
        ck_assert_int_eq(proc_task_exists("/proc", child, child), 0);
        /* The child's thread is not ours, nor ours the child's. */
        ck_assert_int_eq(proc_task_exists("/proc", getpid(), child), -ENOENT);
        ck_assert_int_eq(proc_task_exists("/proc", child, getpid()), -ENOENT);
        ck_assert_int_eq(proc_task_exists("/proc", 0, 1), -ENOENT);
        close(wr);
        waitpid(child, NULL, 0);
}
END_TEST

static void bind_socket(const char *path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(fd);
}

/* The check, with the previous call's message freed first (each call starts a new one). */
static int check_path(const char *path, char **error)
{
        free(*error);
        *error = NULL;
        return qmp_unix_check_path(path, error);
}

START_TEST(test_socket_path_checks)
{
        _cleanup_free_ char *dir = NULL, *sock = NULL, *link = NULL, *file = NULL, *error = NULL;
        FILE *f;

        ck_assert_int_eq(test_make_tmpdir("identity", &dir), 0);
        ck_assert_int_ge(asprintf(&sock, "%s/vm.qmp", dir), 0);
        ck_assert_int_ge(asprintf(&link, "%s/link.qmp", dir), 0);
        ck_assert_int_ge(asprintf(&file, "%s/file.qmp", dir), 0);
        bind_socket(sock);
        ck_assert_int_eq(symlink(sock, link), 0);
        f = fopen(file, "w");
        fclose(f);

        ck_assert_int_eq(chmod(dir, 0755), 0);
        ck_assert_int_eq(check_path(sock, &error), 0);
        ck_assert_ptr_null(error);
        ck_assert_int_eq(check_path(link, &error), -ELOOP);
        ck_assert_ptr_nonnull(strstr(error, "symbolic link"));
        ck_assert_int_eq(check_path(file, &error), -ENOTSOCK);
        ck_assert_int_eq(check_path("/nonexistent/x.qmp", &error), -ENOENT);
        /* Anyone may write the directory: the socket could be anyone's swap. Sticky is fine. */
        ck_assert_int_eq(chmod(dir, 0777), 0);
        ck_assert_int_eq(check_path(sock, &error), -EPERM);
        ck_assert_ptr_nonnull(strstr(error, "writable by group or others"));
        ck_assert_int_eq(chmod(dir, 01777), 0);
        ck_assert_int_eq(check_path(sock, &error), 0);
        /* Owned by neither root nor the directory's owner. Only root can set that up. */
        if (geteuid() == 0) {
                ck_assert_int_eq(chmod(dir, 0755), 0);
                ck_assert_int_eq(lchown(sock, 65534, 65534), 0);
                ck_assert_int_eq(check_path(sock, &error), -EPERM);
                ck_assert_ptr_nonnull(strstr(error, "owned by uid 65534"));
                ck_assert_int_eq(chown(dir, 65534, 65534), 0); /* the directory's owner's socket */
                ck_assert_int_eq(check_path(sock, &error), 0);
        }
        test_remove_tree(dir);
}
END_TEST

START_TEST(test_peer_pid)
{
        int sv[2];
        pid_t pid = 0;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        ck_assert_int_eq(qmp_unix_peer_pid(sv[0], &pid), 0);
        ck_assert_int_eq(pid, getpid());
        close(sv[0]);
        close(sv[1]);
}
END_TEST

START_TEST(test_sanitize)
{
        _cleanup_free_ char *s = NULL, *long_name = NULL;
        char text[] = "a\x1b[2Jb\n\tc\x7f \xc2\x9b"
                      "d \xc3\xa9";

        ck_assert_int_eq(string_sanitize("ev\x1b[31mil\"\n\xc3\xa9", DISPLAY_NAME_MAX, &s), 0);
        ck_assert_str_eq(s, "ev?[31mil\"???");
        free(s);
        long_name = malloc(200);
        memset(long_name, 'x', 199);
        long_name[199] = 0;
        ck_assert_int_eq(string_sanitize(long_name, DISPLAY_NAME_MAX, &s), 0);
        ck_assert_uint_eq(strlen(s), DISPLAY_NAME_MAX);
        ck_assert(string_is_printable("web-1", 64));
        ck_assert(!string_is_printable("a\tb", 64));
        ck_assert(!string_is_printable("", 64));

        string_neutralize_controls(text, strlen(text), true);
        ck_assert_str_eq(text, "a?[2Jb\n\tc? ??d \xc3\xa9"); /* é stays, C1 CSI goes */
}
END_TEST

START_TEST(test_prom_escape)
{
        char buf[16];

        ck_assert_str_eq(PROM_LABEL("plain"), "plain");
        ck_assert_str_eq(PROM_LABEL("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        /* Cut before an escape that does not fit, never in its middle. */
        ck_assert_str_eq(prom_label_escape(buf, 6, "abcd\"e"), "abcd");
        ck_assert_str_eq(prom_label_escape(buf, sizeof(buf), NULL), "");
}
END_TEST

TEST_MAIN("identity", test_pidfd_child_exits, test_pidfd_killed, test_task_of, test_socket_path_checks,
          test_peer_pid, test_sanitize, test_prom_escape)
