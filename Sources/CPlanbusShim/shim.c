#define _GNU_SOURCE
#include "CPlanbusShim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
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

// Only async-signal-safe calls between fork and exec: the parent has many threads.
static void child_fail(int report_fd, int err) {
    ssize_t ignored = write(report_fd, &err, sizeof err);
    (void)ignored;
    _exit(127);
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

int planbus_spawn(const char *path, const char *const argv[], const char *const envp[], const char *cwd,
                  int flags, int death_signal, int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    pid_t parent = getpid();
    sigset_t all, old;
    sigfillset(&all);
    // No signal handler of the parent may run in the child before exec.
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        close(report[0]);
        close(report[1]);
        return err;
    }
    if (pid == 0) {
        for (int sig = 1; sig < NSIG; sig++) {
            if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
        }
        if (flags & PLANBUS_SPAWN_NEW_SESSION) {
            if (setsid() < 0) child_fail(report[1], errno);
        } else if (flags & PLANBUS_SPAWN_NEW_GROUP) {
            if (setpgid(0, 0) != 0) child_fail(report[1], errno);
        }
        if (death_signal != 0) {
            if (prctl(PR_SET_PDEATHSIG, death_signal) != 0) child_fail(report[1], errno);
            // The parent thread may have ended before prctl: then no signal would ever come.
            if (getppid() != parent) _exit(127);
        }
        if (stdin_fd >= 0 && dup2(stdin_fd, 0) < 0) child_fail(report[1], errno);
        if (stdout_fd >= 0 && dup2(stdout_fd, 1) < 0) child_fail(report[1], errno);
        if (stderr_fd >= 0 && dup2(stderr_fd, 2) < 0) child_fail(report[1], errno);
        // Keep only the report pipe (close-on-exec) above 2.
        int keep = report[1];
        close_between(3, keep - 1);
        close_between(keep + 1, 0x7fffffff);
        if (cwd != NULL && chdir(cwd) != 0) child_fail(report[1], errno);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        // ETXTBSY: the program is still open for writing somewhere, typically in a process that
        // another thread forked while the program was being written and that has not reached its
        // own exec (and so its close-on-exec) yet. Wait for that a little, up to a second.
        for (int tries = 0; tries < 100; tries++) {
            execve(path, (char *const *)argv, (char *const *)envp);
            if (errno != ETXTBSY) break;
            struct timespec pause = {0, 10 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
        child_fail(report[1], errno);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(report[1]);
    int child_errno = 0;
    ssize_t n;
    do {
        n = read(report[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof child_errno) {
        // exec failed: reap the child, which has exited with 127.
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return child_errno;
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
