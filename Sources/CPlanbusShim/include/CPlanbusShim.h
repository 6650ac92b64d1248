#ifndef PLANBUS_SHIM_H
#define PLANBUS_SHIM_H

#include <sys/types.h>

/// Filesystem magic of the filesystem holding `path` (statfs f_type), or -1 with errno set.
long planbus_fs_type(const char *path);

/// How `planbus_spawn` sets up the child.
enum {
    /// A new process group (pgid = child pid).
    PLANBUS_SPAWN_NEW_GROUP = 1,
    /// A new session (and so a new group), detached from the terminal.
    PLANBUS_SPAWN_NEW_SESSION = 2,
};

/// Spawns the program at `path` with `argv` and `envp`, by clone (CLONE_VM | CLONE_VFORK, as
/// posix_spawn does, so no page table of the caller is copied) and execve:
/// - in a new process group or session, as `flags` say,
/// - with every file descriptor above 2 closed, so nothing is inherited,
/// - with stdin/stdout/stderr replaced by `stdin_fd`/`stdout_fd`/`stderr_fd` when they are >= 0,
/// - with default signal dispositions and an empty signal mask,
/// - when `death_signal` is non-zero, with that signal delivered to the child when the calling
///   thread ends (prctl PR_SET_PDEATHSIG): call it from a thread that lives as long as the child.
/// Returns 0 and stores the pid, or an errno value (also when exec fails in the child).
int planbus_spawn(const char *path, const char *const argv[], const char *const envp[], const char *cwd,
                  int flags, int death_signal, int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out);

/// Takes an exclusive open-file-description lock (F_OFD_SETLK) on the whole of `fd`'s file.
/// Returns 0, or an errno value (EAGAIN when another open file description holds it).
int planbus_lock(int fd);

/// Whether another open file description holds a lock on `fd`'s file (F_OFD_GETLK, which takes
/// nothing): 1 held, 0 free, -1 with errno set.
int planbus_lock_held(int fd);

/// An anonymous file in memory (memfd_create with MFD_CLOEXEC) named `name` for /proc: a place
/// for a child's output that allocates no inode on any filesystem. Where memfd cannot be made (an
/// old kernel, a sandbox that refuses it), `planbus_tmpfile(fallback_dir)` instead. Returns the
/// descriptor, or -1 with errno set.
int planbus_memfd(const char *name, const char *fallback_dir);

/// An unnamed file in the folder `dir` (O_TMPFILE, O_RDWR, O_CLOEXEC, mode 0600), gone with its
/// last descriptor; on a filesystem without O_TMPFILE, a file made there with mkostemp and unlinked
/// at once. Returns the descriptor, or -1 with errno set.
int planbus_tmpfile(const char *dir);

#endif
