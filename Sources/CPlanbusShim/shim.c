#define _GNU_SOURCE
#include "CPlanbusShim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long planbus_fs_type(const char *path) {
    struct statfs s;
    if (statfs(path, &s) != 0) {
        return -1;
    }
    return (long)s.f_type;
}

// Closes every descriptor from `low` to `high` (inclusive), without close_range when it is missing
// (ENOSYS before Linux 5.9, or EPERM under some seccomp filters).
static void close_between(int low, int high) {
    if (low > high) return;
    if (syscall(SYS_close_range, (unsigned)low, (unsigned)high, 0) == 0) return;
    struct rlimit limit;
    int top = high;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && (rlim_t)top > limit.rlim_cur) {
        top = (int)limit.rlim_cur - 1;
    }
    if (top > 65535) top = 65535;
    for (int fd = low; fd <= top; fd++) close(fd);
}

// What the child of planbus_spawn needs, and where it leaves the errno of a failure.
struct spawn_request {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int flags;
    int death_signal;
    int fds[3];
    pid_t parent;
    int error;
};

// The child, running on its own stack in the parent's memory (clone with CLONE_VM | CLONE_VFORK,
// as posix_spawn does) until it execs: no page table is copied, however large the parent. The
// parent thread is suspended meanwhile and every signal is blocked, so only system calls run
// here, and a failure is reported by writing the request's `error` before exiting.
static int spawn_child(void *argument) {
    struct spawn_request *request = argument;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    }
    if (request->flags & PLANBUS_SPAWN_NEW_SESSION) {
        if (setsid() < 0) goto fail;
    } else if (request->flags & PLANBUS_SPAWN_NEW_GROUP) {
        if (setpgid(0, 0) != 0) goto fail;
    }
    if (request->death_signal != 0) {
        if (prctl(PR_SET_PDEATHSIG, request->death_signal) != 0) goto fail;
        // The parent thread may have ended before prctl: then no signal would ever come.
        if (getppid() != request->parent) _exit(127);
    }
    for (int fd = 0; fd < 3; fd++) {
        if (request->fds[fd] >= 0 && dup2(request->fds[fd], fd) < 0) goto fail;
    }
    close_between(3, 0x7fffffff);
    if (request->cwd != NULL && chdir(request->cwd) != 0) goto fail;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    // ETXTBSY: the program is still open for writing somewhere, typically in a process that
    // another thread started while the program was being written and that has not reached its
    // own exec (and so its close-on-exec) yet. Wait for that a little, up to a second.
    for (int tries = 0; tries < 100; tries++) {
        execve(request->path, request->argv, request->envp);
        if (errno != ETXTBSY) break;
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
fail:
    request->error = errno != 0 ? errno : EINVAL;
    _exit(127);
}

// The child's stack: enough for the few system calls above.
enum { SPAWN_STACK_SIZE = 64 * 1024 };

int planbus_spawn(const char *path, const char *const argv[], const char *const envp[], const char *cwd,
                  int flags, int death_signal, int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out) {
    struct spawn_request request = {
        .path = path,
        .argv = (char *const *)argv,
        .envp = (char *const *)envp,
        .cwd = cwd,
        .flags = flags,
        .death_signal = death_signal,
        .fds = {stdin_fd, stdout_fd, stderr_fd},
        .parent = getpid(),
        .error = 0,
    };
    void *stack = mmap(NULL, SPAWN_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return errno;
    sigset_t all, old;
    sigfillset(&all);
    // No signal handler of the parent may run in the child, which shares its memory.
    pthread_sigmask(SIG_SETMASK, &all, &old);
    // Returns once the child has exec'd or exited.
    pid_t pid = clone(spawn_child, (char *)stack + SPAWN_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &request);
    int err = pid < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stack, SPAWN_STACK_SIZE);
    if (pid < 0) return err;
    if (request.error != 0) {
        // exec failed: reap the child, which has exited with 127.
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return request.error;
    }
    // The child has exec'd, so its own setpgid/setsid is done: a signal to the group cannot miss.
    *pid_out = pid;
    return 0;
}

int planbus_lock(int fd) {
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0};
    if (fcntl(fd, F_OFD_SETLK, &lock) == 0) return 0;
    return errno == EACCES ? EAGAIN : errno;
}

int planbus_lock_held(int fd) {
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0};
    if (fcntl(fd, F_OFD_GETLK, &lock) != 0) return -1;
    return lock.l_type == F_UNLCK ? 0 : 1;
}

int planbus_memfd(const char *name, const char *fallback_dir) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd >= 0) return fd;
    return planbus_tmpfile(fallback_dir);
}

int planbus_tmpfile(const char *dir) {
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    // A filesystem without O_TMPFILE (NFS, some FUSE): a named file, unlinked at once.
    char path[4096];
    if (snprintf(path, sizeof path, "%s/.planbus-XXXXXX", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) return -1;
    unlink(path);
    return fd;
}
