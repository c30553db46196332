#include "../core/ipcx_int.h"
static int
udp_persistence(const ipcx__url *u)
{
	(void)u;
	return IPCX_PERSIST_PROCESS;
}
const struct ipcx__transport ipcx__udp = {
        .version = IPCX__TRANSPORT_VERSION, .scheme = "udp", .persistence = udp_persistence};
