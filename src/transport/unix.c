#include "../core/ipcx_int.h"
static int unix_persistence(const ipcx__url *u) { (void)u; return IPCX_PERSIST_PROCESS; }
const struct ipcx__transport ipcx__unix = { .version = IPCX__TRANSPORT_VERSION, .scheme = "unix", .persistence = unix_persistence };
