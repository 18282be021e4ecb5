/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/basic/pidfd-util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vnuma/basic/macro.h"

int pidfd_open_pid(pid_t pid, int *ret_fd)
{
        int fd;

        if (pid <= 0)
                return -ESRCH;
        /* The syscall, not glibc's wrapper: glibc < 2.36 has none. pidfds are close-on-exec. */
        fd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
                return negative_errno();
        *ret_fd = fd;
        return 0;
}

int pidfd_check_alive(int pidfd)
{
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        int n;

        if (pidfd < 0)
                return -EBADF;
        do
                n = poll(&p, 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        if (p.revents & POLLNVAL)
                return -EBADF;
        if (n > 0)
                return -ESRCH; /* readable: the process has exited (zombie or reaped) */
        /* Signal 0 only checks that the process still exists and may be signalled. */
        if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
                return negative_errno();
        return 0;
}
