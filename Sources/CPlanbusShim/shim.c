#define _GNU_SOURCE
#include "CPlanbusShim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
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

int planbus_spawn(const char *const argv[], const char *const envp[], const char *cwd, int flags,
                  int death_signal, int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out) {
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
        if (keep > 3) syscall(SYS_close_range, 3, keep - 1, 0);
        syscall(SYS_close_range, keep + 1, ~0U, 0);
        if (cwd != NULL && chdir(cwd) != 0) child_fail(report[1], errno);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execvpe(argv[0], (char *const *)argv, (char *const *)envp);
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
