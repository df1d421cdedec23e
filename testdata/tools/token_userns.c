/* Not BPF: a host program, built at test time, that runs a command the way an unprivileged
 * container would use a BPF token.
 *
 *   token_userns COMMAND [ARG...]
 *
 * The child enters a new user namespace (uid and gid 0 mapped to the caller's 0) and opens a BPF
 * file system context there (in a mount namespace of its own); the parent, privileged in the initial namespace, sets the delegation
 * options on it (delegate_cmds/maps/progs/attachs=any, which only a privileged process may),
 * creates and mounts it (detached) and hands the mount back. The child then runs COMMAND with
 * every argument "{bpffs}" replaced by /proc/self/fd/N, the root of that file system.
 * Exits with COMMAND's status, or 100 + a step number when the setup fails. Needs root. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FSCONFIG_SET_STRING
#define FSCONFIG_SET_STRING 1
#endif
#ifndef FSCONFIG_CMD_CREATE
#define FSCONFIG_CMD_CREATE 6
#endif

static int send_descriptor(int channel, int descriptor)
{
	char byte = 0;
	struct iovec io = { .iov_base = &byte, .iov_len = 1 };
	char control[CMSG_SPACE(sizeof(int))];
	memset(control, 0, sizeof(control));
	struct msghdr message = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control) };
	struct cmsghdr *header = CMSG_FIRSTHDR(&message);
	header->cmsg_level = SOL_SOCKET;
	header->cmsg_type = SCM_RIGHTS;
	header->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(header), &descriptor, sizeof(int));
	return sendmsg(channel, &message, 0) == 1 ? 0 : -1;
}

static int receive_descriptor(int channel)
{
	char byte;
	struct iovec io = { .iov_base = &byte, .iov_len = 1 };
	char control[CMSG_SPACE(sizeof(int))];
	struct msghdr message = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control) };
	if (recvmsg(channel, &message, 0) != 1)
		return -1;
	struct cmsghdr *header = CMSG_FIRSTHDR(&message);
	if (!header || header->cmsg_type != SCM_RIGHTS)
		return -1;
	int descriptor;
	memcpy(&descriptor, CMSG_DATA(header), sizeof(int));
	return descriptor;
}

static int write_file(const char *path, const char *text)
{
	int descriptor = open(path, O_WRONLY | O_CLOEXEC);
	if (descriptor < 0)
		return -1;
	ssize_t written = write(descriptor, text, strlen(text));
	close(descriptor);
	return written == (ssize_t)strlen(text) ? 0 : -1;
}

static int child(int channel, char **command)
{
	char byte = 0;
	if (unshare(CLONE_NEWUSER) != 0)
		return 101;
	if (write(channel, &byte, 1) != 1 || read(channel, &byte, 1) != 1 || byte != 1)
		return 102;
	/* fsopen needs CAP_SYS_ADMIN over the mount namespace, so the child takes one of its own. */
	if (unshare(CLONE_NEWNS) != 0)
		return 107;
	int context = syscall(SYS_fsopen, "bpf", 0);
	if (context < 0)
		return 103;
	if (send_descriptor(channel, context) != 0)
		return 104;
	close(context);
	int mount = receive_descriptor(channel);
	if (mount < 0)
		return 105;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mount);
	for (char **argument = command; *argument; argument++)
		if (strcmp(*argument, "{bpffs}") == 0)
			*argument = path;
	execv(command[0], command);
	return 106;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s COMMAND [ARG...]\n", argv[0]);
		return 2;
	}
	int channels[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channels) != 0)
		return 110;
	pid_t pid = fork();
	if (pid < 0)
		return 111;
	if (pid == 0) {
		close(channels[0]);
		_exit(child(channels[1], argv + 1));
	}
	close(channels[1]);
	int channel = channels[0];
	char byte;
	int failure = 0;
	if (read(channel, &byte, 1) != 1) {
		failure = 112;
	} else {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
		if (write_file(path, "0 0 1\n") != 0)
			failure = 113;
		snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
		if (!failure && write_file(path, "0 0 1\n") != 0)
			failure = 114;
		byte = failure ? 0 : 1;
		if (write(channel, &byte, 1) != 1 && !failure)
			failure = 115;
	}
	if (!failure) {
		int context = receive_descriptor(channel);
		const char *options[] = { "delegate_cmds", "delegate_maps", "delegate_progs", "delegate_attachs" };
		if (context < 0)
			failure = 116;
		for (int index = 0; !failure && index < 4; index++)
			if (syscall(SYS_fsconfig, context, FSCONFIG_SET_STRING, options[index], "any", 0) != 0)
				failure = 117;
		if (!failure && syscall(SYS_fsconfig, context, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0)
			failure = 118;
		int mount = failure ? -1 : syscall(SYS_fsmount, context, 0, 0);
		if (!failure && mount < 0)
			failure = 119;
		if (!failure && send_descriptor(channel, mount) != 0)
			failure = 120;
		if (mount >= 0)
			close(mount);
		if (context >= 0)
			close(context);
	}
	if (failure)
		fprintf(stderr, "token_userns: setup step %d failed: %s\n", failure, strerror(errno));
	close(channel);
	int status = 0;
	if (waitpid(pid, &status, 0) != pid)
		return 121;
	if (failure) {
		if (WIFEXITED(status))
			fprintf(stderr, "token_userns: the child exited with %d\n", WEXITSTATUS(status));
		return failure;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 122;
}
