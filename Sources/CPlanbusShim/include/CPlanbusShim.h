#ifndef PLANBUS_SHIM_H
#define PLANBUS_SHIM_H

#include <sys/types.h>

/// Filesystem magic of the filesystem holding `path` (statfs f_type), or -1 with errno set.
long planbus_fs_type(const char *path);

/// Spawns `argv[0]` (searched in PATH when it has no slash) with `envp`:
/// - in a new process group (pgid = child pid) when `new_group` is non-zero,
/// - with every file descriptor above 2 closed, so nothing is inherited,
/// - with stdin/stdout/stderr replaced by `stdin_fd`/`stdout_fd`/`stderr_fd` when they are >= 0,
/// - with default signal dispositions and an empty signal mask.
/// Returns 0 and stores the pid, or an errno value.
int planbus_spawn(const char *const argv[], const char *const envp[], const char *cwd,
                  int new_group, int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out);

#endif
