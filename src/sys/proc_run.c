/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
#include "proc_run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/util.h"

extern char **environ;

/* Append n bytes to *b (len, cap), keeping at most max; always NUL-terminated. */
static void append(char **b, size_t *len, size_t *cap, const char *d, size_t n, size_t max)
{
	if (*len + n > max)
		n = max > *len ? max - *len : 0;
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		*b = xrealloc(*b, *cap);
	}
	memcpy(*b + *len, d, n);
	*len += n;
	(*b)[*len] = '\0';
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int proc_start(struct proc_run *r)
{
	r->pid = -1;
	r->fd_out = r->fd_err = r->pidfd = -1;
	r->out = xstrdup("");
	r->err = xstrdup("");
	r->out_len = r->err_len = 0;
	r->out_cap = r->err_cap = 1;
	r->timed_out = r->stopped = false;
	r->why[0] = '\0';
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	if ((r->out_max && pipe2(po, O_CLOEXEC) < 0) || (r->err_max && pipe2(pe, O_CLOEXEC) < 0)) {
		snprintf(r->why, sizeof(r->why), "pipe: %s", strerror(errno));
		close_fd(&po[0]), close_fd(&po[1]);
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (po[1] >= 0)
		posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (pe[1] >= 0)
		posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	else
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	/* a group of its own: a terminal's Ctrl-C reaches us, and we stop the child in order;
	 * the group is what a timeout kills, grandchildren included */
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	int e = posix_spawnp(&r->pid, r->argv[0], &fa, &at, r->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close_fd(&po[1]);
	close_fd(&pe[1]);
	if (e) {
		r->pid = -1;
		close_fd(&po[0]);
		close_fd(&pe[0]);
		snprintf(r->why, sizeof(r->why), "cannot run %s: %s", r->argv[0], strerror(e));
		return -1;
	}
	r->deadline_ns = mono_ns() + (uint64_t)(r->timeout_ms > 0 ? r->timeout_ms : 0) * 1000000ull;
	r->fd_out = po[0];
	r->fd_err = pe[0];
	if (r->fd_out >= 0)
		fcntl(r->fd_out, F_SETFL, O_NONBLOCK);
	if (r->fd_err >= 0)
		fcntl(r->fd_err, F_SETFL, O_NONBLOCK);
	r->pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
	return 0;
}

/* Read what the pipes hold; a pipe closes at EOF (or, once the child is
 * gone, when only a grandchild still holds it). */
static void drain(struct proc_run *r, bool exited)
{
	int *fds[2] = { &r->fd_out, &r->fd_err };
	char **bufs[2] = { &r->out, &r->err };
	size_t *lens[2] = { &r->out_len, &r->err_len }, *caps[2] = { &r->out_cap, &r->err_cap };
	size_t maxes[2] = { r->out_max, r->err_max };
	for (int i = 0; i < 2; i++) {
		while (*fds[i] >= 0) {
			char tmp[8192];
			ssize_t n = read(*fds[i], tmp, sizeof(tmp));
			if (n > 0) {
				if (i == 1 && r->forward_err && fwrite(tmp, 1, (size_t)n, stderr) != (size_t)n)
					r->forward_err = false;
				append(bufs[i], lens[i], caps[i], tmp, (size_t)n, maxes[i]);
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0 || errno != EAGAIN || exited)
				close_fd(fds[i]);
			break;
		}
	}
}

int proc_wait(struct proc_run *r)
{
	if (r->pid <= 0)
		return -1;
	bool termed = false, killed = false, reaped = false;
	uint64_t kill_at = 0;
	int st = 0;
	for (;;) {
		uint64_t now = mono_ns();
		if (!termed && (now >= r->deadline_ns || (r->stop && *r->stop))) {
			r->timed_out = now >= r->deadline_ns;
			r->stopped = !r->timed_out;
			termed = true;
			if (r->grace_ms > 0) {
				kill(r->pid, SIGTERM);
				kill_at = now + (uint64_t)r->grace_ms * 1000000ull;
			} else {
				kill_at = now;
			}
		}
		if (termed && now >= kill_at) {
			kill(-r->pid, SIGKILL);
			killed = true;
			break;
		}
		if (r->fd_out < 0 && r->fd_err < 0 && waitpid(r->pid, &st, WNOHANG) == r->pid) {
			reaped = true;
			break;
		}
		/* wake on output, on the child's exit (pidfd), or to look at the deadline and *stop again
		 * (without a pidfd, that is also how its exit is noticed) */
		uint64_t until = termed ? kill_at : r->deadline_ns;
		int wait_ms = r->pidfd >= 0 ? 200 : 5;
		if (until > now && (until - now) / 1000000 < (uint64_t)wait_ms)
			wait_ms = (int)((until - now) / 1000000) + 1;
		struct pollfd p[3] = { { r->fd_out, POLLIN, 0 }, { r->fd_err, POLLIN, 0 }, { r->pidfd, POLLIN, 0 } };
		if (poll(p, 3, wait_ms) < 0 && errno != EINTR) {
			kill(-r->pid, SIGKILL);
			killed = true;
			break;
		}
		drain(r, r->pidfd >= 0 && (p[2].revents & POLLIN));
	}
	if (!reaped)
		while (waitpid(r->pid, &st, 0) < 0 && errno == EINTR)
			;
	close_fd(&r->fd_out);
	close_fd(&r->fd_err);
	close_fd(&r->pidfd);
	if (r->timed_out) {
		snprintf(r->why, sizeof(r->why), "%s did not finish within %g s", r->argv[0], r->timeout_ms / 1000.0);
		return -1;
	}
	if (r->stopped) {
		snprintf(r->why, sizeof(r->why), "interrupted");
		return -1;
	}
	if (killed || !WIFEXITED(st)) {
		snprintf(r->why, sizeof(r->why), "%s was killed by signal %d", r->argv[0],
			 WIFSIGNALED(st) ? WTERMSIG(st) : SIGKILL);
		return -1;
	}
	return WEXITSTATUS(st);
}

int proc_run(struct proc_run *r)
{
	return proc_start(r) < 0 ? -1 : proc_wait(r);
}

void proc_run_done(struct proc_run *r)
{
	close_fd(&r->fd_out);
	close_fd(&r->fd_err);
	close_fd(&r->pidfd);
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
	r->out_len = r->err_len = 0;
}
