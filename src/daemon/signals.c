/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Signals (SIGHUP reloads the configuration, SIGTERM/SIGINT stop) and the watched QMP directory,
 * both served by the event loop. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "daemon.h"
#include "vnuma/basic/event-loop.h"
#include "vnuma/basic/log.h"

static void on_signal(int fd, bool readable, bool hangup, void *userdata)
{
        struct daemon *d = userdata;
        struct signalfd_siginfo si;

        if (read(fd, &si, sizeof(si)) != sizeof(si))
                return;
        if (si.ssi_signo == SIGHUP) {
                sd_notify(false, "RELOADING=1");
                daemon_reload(d);
                sd_notify(false, "READY=1");
        } else {
                log_info("Received %s, exiting.", strsignal((int)si.ssi_signo));
                d->quit = true;
        }
}

static void on_inotify(int fd, bool readable, bool hangup, void *userdata)
{
        struct daemon *d = userdata;
        char buf[4096];

        /* Any change in the directory: look again at the next period. */
        while (read(fd, buf, sizeof(buf)) > 0)
                ;
        d->rescan = true;
}

int daemon_setup_signals(struct daemon *d)
{
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return negative_errno();
        d->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (d->signal_fd < 0)
                return negative_errno();
        d->signal_watch = event_loop_add_io(d->signal_fd, on_signal, d);
        return d->signal_watch < 0 ? d->signal_watch : 0;
}

int daemon_setup_qmp_dir(struct daemon *d)
{
        if (!d->config->qmp_dir)
                return 0;
        if (mkdir(d->config->qmp_dir, 0750) < 0 && errno != EEXIST)
                return negative_errno();
        d->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (d->inotify_fd < 0)
                return negative_errno();
        if (inotify_add_watch(d->inotify_fd, d->config->qmp_dir, IN_CREATE | IN_MOVED_TO | IN_DELETE) < 0)
                return negative_errno();
        d->inotify_watch = event_loop_add_io(d->inotify_fd, on_inotify, d);
        return d->inotify_watch < 0 ? d->inotify_watch : 0;
}
