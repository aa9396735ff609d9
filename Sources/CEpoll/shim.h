#ifndef FORMNET_CEPOLL_SHIM_H
#define FORMNET_CEPOLL_SHIM_H
/* Swift's Glibc module leaves out sys/epoll.h; the relay's channel loop needs it. */
#include <sys/epoll.h>
#endif
