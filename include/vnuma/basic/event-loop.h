/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* vnumad's single-threaded event loop: a thin layer over libvirt's default event
 * implementation, so QMP sockets, the control socket, signals, inotify and libvirt's own
 * connection events all run on one loop. Callbacks run on the loop; nothing blocks it for long. */

#include <stdbool.h>

typedef void (*event_io_cb)(int fd, bool readable, bool hangup, void *userdata);
typedef void (*event_timer_cb)(void *userdata);

int event_loop_init(void);
/* Watch fd for readability. Returns a watch id >= 0. */
int event_loop_add_io(int fd, event_io_cb cb, void *userdata);
void event_loop_remove_io(int watch);
/* What the watch waits for; the callback runs (with readable false) when fd becomes writable.
 * Hangups and errors are reported either way. */
void event_loop_update_io(int watch, bool readable, bool writable);
/* Call cb every interval_ms (0: on the next iteration, then disabled... use update). */
int event_loop_add_timer(int interval_ms, event_timer_cb cb, void *userdata);
/* interval_ms < 0 disables the timer. */
void event_loop_update_timer(int timer, int interval_ms);
void event_loop_remove_timer(int timer);
/* Runs one iteration: waits for at least one event. */
int event_loop_run_once(void);
