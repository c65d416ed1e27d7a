/*
 * fault.h — fault injection for the crash tests: the process kills
 * itself (SIGKILL, as an OOM killer or a power cut would stop it) when it
 * reaches a named point for the N-th time, so a test can stop the daemon
 * at each step of a turn exactly, not by timing.
 *
 * DAIMON_FAULT=NAME:N arms it (unset: every point is one load and a
 * compare). Points are named where they are placed (sessions/session.c:
 * "intent", "returned", "outcome", "results", "answer").
 */
#ifndef DAIMON_CORE_FAULT_H
#define DAIMON_CORE_FAULT_H

void daimon_fault_point(const char *name);

#endif
