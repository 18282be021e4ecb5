/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The systemd watchdog, pinged from a timer of its own at half of WATCHDOG_USEC: a period may
 * be longer than WatchdogSec, and a ping only at the end of a period would get a healthy
 * daemon killed. What the ping proves is that the event loop still turns. */
#include <inttypes.h>
#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "vnuma/basic/event-loop.h"
#include "vnuma/basic/log.h"

static void on_watchdog(void *userdata)
{
        (void)sd_notify(false, "WATCHDOG=1");
}

int daemon_setup_watchdog(struct daemon *d)
{
        uint64_t usec = 0, interval_ms;
        int r;

        d->watchdog_timer = -1;
        r = sd_watchdog_enabled(false, &usec);
        if (r < 0)
                return log_warning_errno(r, "Ignoring an invalid WATCHDOG_USEC: %m"), 0;
        if (r == 0 || usec == 0)
                return 0;
        interval_ms = MAX(usec / 2000, (uint64_t)1);
        interval_ms = MIN(interval_ms, (uint64_t)INT32_MAX);
        d->watchdog_timer = event_loop_add_timer((int)interval_ms, on_watchdog, d);
        if (d->watchdog_timer < 0)
                return d->watchdog_timer;
        log_debug("Pinging the systemd watchdog every %" PRIu64 " ms.", interval_ms);
        (void)sd_notify(false, "WATCHDOG=1");
        return 0;
}
