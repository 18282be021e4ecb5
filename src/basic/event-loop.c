/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vnuma/basic/event-loop.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <stdlib.h>

#include "vnuma/basic/macro.h"

struct io_ctx {
        event_io_cb cb;
        void *userdata;
};

struct timer_ctx {
        event_timer_cb cb;
        void *userdata;
};

static void io_trampoline(int watch, int fd, int events, void *opaque)
{
        struct io_ctx *c = opaque;

        c->cb(fd, events & VIR_EVENT_HANDLE_READABLE,
              events & (VIR_EVENT_HANDLE_HANGUP | VIR_EVENT_HANDLE_ERROR), c->userdata);
}

static void timer_trampoline(int timer, void *opaque)
{
        struct timer_ctx *c = opaque;

        c->cb(c->userdata);
}

int event_loop_init(void)
{
        return virEventRegisterDefaultImpl() < 0 ? -EIO : 0;
}

int event_loop_add_io(int fd, event_io_cb cb, void *userdata)
{
        struct io_ctx *c = malloc(sizeof(*c));
        int watch;

        if (!c)
                return -ENOMEM;
        *c = (struct io_ctx){cb, userdata};
        /* libvirt frees the context through the free callback once the watch is gone. */
        watch = virEventAddHandle(fd, VIR_EVENT_HANDLE_READABLE, io_trampoline, c, free);
        if (watch < 0) {
                free(c);
                return -EIO;
        }
        return watch;
}

void event_loop_remove_io(int watch)
{
        if (watch >= 0)
                virEventRemoveHandle(watch);
}

void event_loop_update_io(int watch, bool readable, bool writable)
{
        if (watch >= 0)
                virEventUpdateHandle(watch, (readable ? VIR_EVENT_HANDLE_READABLE : 0) |
                                                    (writable ? VIR_EVENT_HANDLE_WRITABLE : 0));
}

int event_loop_add_timer(int interval_ms, event_timer_cb cb, void *userdata)
{
        struct timer_ctx *c = malloc(sizeof(*c));
        int timer;

        if (!c)
                return -ENOMEM;
        *c = (struct timer_ctx){cb, userdata};
        timer = virEventAddTimeout(interval_ms, timer_trampoline, c, free);
        if (timer < 0) {
                free(c);
                return -EIO;
        }
        return timer;
}

void event_loop_update_timer(int timer, int interval_ms)
{
        if (timer >= 0)
                virEventUpdateTimeout(timer, interval_ms);
}

void event_loop_remove_timer(int timer)
{
        if (timer >= 0)
                virEventRemoveTimeout(timer);
}

int event_loop_run_once(void)
{
        return virEventRunDefaultImpl() < 0 ? -EIO : 0;
}
