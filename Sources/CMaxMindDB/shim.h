#ifndef FORMNET_CMAXMINDDB_SHIM_H
#define FORMNET_CMAXMINDDB_SHIM_H
#include <maxminddb.h>
#endif
