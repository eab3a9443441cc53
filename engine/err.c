/* err.c - filling struct hv_err. */
#include <stdio.h>
#include <string.h>

#include "engine/err.h"

int
hv_vfail(struct hv_err *err, enum hv_errcode code, const char *fmt, va_list ap)
{
	if (err == NULL)
		return -1;
	err->code = code;
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	return -1;
}

int
hv_fail(struct hv_err *err, enum hv_errcode code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hv_vfail(err, code, fmt, ap);
	va_end(ap);
	return -1;
}

void
hv_err_clear(struct hv_err *err)
{
	if (err == NULL)
		return;
	err->code = HV_OK;
	err->msg[0] = '\0';
}
