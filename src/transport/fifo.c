#include "../core/ipcx_int.h"
static int
fifo_persistence(const ipcx__url *u)
{
	(void)u;
	return IPCX_PERSIST_PROCESS;
}
const struct ipcx__transport ipcx__fifo = {
        .version = IPCX__TRANSPORT_VERSION, .scheme = "fifo", .persistence = fifo_persistence};
