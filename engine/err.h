/*
 * err.h - the one error type every engine layer reports through.
 *
 * An engine call that fails returns a negative value and fills a
 * struct hv_err with a code (what kind of failure, which the shell maps
 * to an exit status) and one human line (what went wrong, and why).
 */
#ifndef HV_ERR_H
#define HV_ERR_H

#include <stdarg.h>

enum hv_errcode {
	HV_OK = 0,
	HV_EUSAGE,	/* the caller asked for something malformed: exit 2 */
	HV_ENOENT,	/* no such object */
	HV_EEXIST,	/* object already exists */
	HV_EINVAL,	/* a value is out of range or inconsistent */
	HV_EIO,		/* a file or device failed */
	HV_ECORRUPT,	/* an image or file is malformed */
	HV_EBUSY,	/* object in use (running VM, locked db) */
	HV_ENOTSUP,	/* valid but not supported */
	HV_EINTERNAL,
};

struct hv_err {
	enum hv_errcode code;
	char msg[512];
};

/* Set err (if not NULL) and return -1, so callers can `return hv_fail(...)`. */
int hv_fail(struct hv_err *err, enum hv_errcode code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int hv_vfail(struct hv_err *err, enum hv_errcode code, const char *fmt,
	     va_list ap);
void hv_err_clear(struct hv_err *err);

#endif
