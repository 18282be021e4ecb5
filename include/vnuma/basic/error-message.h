/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The message half of "-errno plus a message for the caller to log once". */

#include "vnuma/basic/macro.h"

/* If ret_error is non-NULL, *ret_error becomes the formatted message (what it held is freed; a
 * failed allocation leaves NULL). Returns r, so `return error_message(ret_error, -EINVAL, ...)`. */
_printf_(3, 4) int error_message(char **ret_error, int r, const char *fmt, ...);
