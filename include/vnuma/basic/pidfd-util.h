/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A process held by a pidfd (Linux 5.3): unlike a pid, it cannot come to name another process
 * once its own exits and the pid is reused, so a check through it just before acting on the pid
 * is never answered by a stranger. */

#include <sys/types.h>

/* pidfd_open(2), close-on-exec. -ESRCH if no such process. */
int pidfd_open_pid(pid_t pid, int *ret_fd);
/* 0 while the process runs; -ESRCH once it has exited (a zombie counts as exited: poll(2) on a
 * pidfd turns readable when the thread group ends), other -errno if it cannot be asked. */
int pidfd_check_alive(int pidfd);
