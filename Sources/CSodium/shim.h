#ifndef FORMNET_CSODIUM_SHIM_H
#define FORMNET_CSODIUM_SHIM_H
#include <sodium.h>
#endif
