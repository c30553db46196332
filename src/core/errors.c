/*
 * errors.c - error codes: names and static texts from the one IPCX_ERRNO_MAP list, and a
 * compile-time check that every errno-mirroring code equals -errno on this platform.
 */
#include "ipcx_int.h"

#define IPCX__CHECK(name, val, text) \
	_Static_assert((val) <= -3000 || (val) == -(name), "IPCX_" #name " must equal -" #name);
#define ECLOSED   0
#define EBADURL   0
#define ESCHEME   0
#define ENOTFOUND    0
#define ERPCPROG     0
#define ERPCVERS     0
#define ERPCPROC     0
#define ERPCARGS     0
#define ERPCSYSTEM   0
#define ERPCMISMATCH 0
#define ERPCAUTH     0
#define EUNKNOWN     0
IPCX_ERRNO_MAP(IPCX__CHECK)
#undef ECLOSED
#undef EBADURL
#undef ESCHEME
#undef ENOTFOUND
#undef ERPCPROG
#undef ERPCVERS
#undef ERPCPROC
#undef ERPCARGS
#undef ERPCSYSTEM
#undef ERPCMISMATCH
#undef ERPCAUTH
#undef EUNKNOWN
#undef IPCX__CHECK

IPCX_API const char *
ipcx_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define IPCX__XX(name, val, text) \
	case (val):               \
		return text;
		IPCX_ERRNO_MAP(IPCX__XX)
#undef IPCX__XX
	default:
		return "unknown error";
	}
}

IPCX_API const char *
ipcx_err_name(int err)
{
	switch (err) {
	case 0:
		return "0";
#define IPCX__XX(name, val, text) \
	case (val):               \
		return "IPCX_" #name;
		IPCX_ERRNO_MAP(IPCX__XX)
#undef IPCX__XX
	default:
		return "IPCX_EUNKNOWN";
	}
}
