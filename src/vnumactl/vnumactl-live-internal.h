/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the live views (vnumactl-live.c: top; vnumactl-live-wait.c: wait, rebalance --wait)
 * share: the clock, status requests and the numbers in them, pauses and terminal writes. */

#include <stdbool.h>

#include <json-c/json.h>

#include "vnumactl-live.h"

double live_now_s(void);
double live_num(struct json_object *o, const char *key);
struct json_object *live_num_json(double v);
struct json_object *live_bytes_json(double v);
int live_get_status(const struct live_opts *o, struct json_object **ret);
struct json_object *live_find_vm(struct json_object *st, const char *name);
const char *live_vm_mode(struct json_object *vm);
double live_poll_interval_s(struct json_object *st);
void live_write_terminal(const char *before, char *text, const char *after);
int live_pause_for(double seconds, bool keys);
void live_fmt_pct(char *buf, size_t size, double v);
