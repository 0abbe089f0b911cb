#include "diagnose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAP_SYS_PTRACE_BIT 19 /* <linux/capability.h> */

/* security/yama/yama_lsm.c: YAMA_SCOPE_DISABLED, _RELATIONAL, _CAPABILITY,
 * _NO_ATTACH; ptrace_may_access() asks yama_ptrace_access_check(). */
const char *ka_yama_scope_meaning(int scope)
{
	switch (scope) {
	case 0:
		return "classic: a process may trace any process of its own user";
	case 1:
		return "restricted: a process may trace its descendants and the processes that "
		       "named it with PR_SET_PTRACER, as kvm-as's command does";
	case 2:
		return "admin-only attach: only a process with CAP_SYS_PTRACE may trace another";
	case 3:
		return "no attach: no process may trace another, root included";
	default:
		return NULL;
	}
}

void ka_ptrace_hint(const struct ka_ptrace_facts *f, char *buf, size_t size)
{
	const char *meaning = ka_yama_scope_meaning(f->yama_scope);
	char yama[256] = "";

	if (f->yama_scope == 3) {
		snprintf(buf, size,
			 "yama ptrace_scope is 3 (%s), and it cannot be lowered without a reboot: kvm-as "
			 "cannot trace on this boot (set kernel.yama.ptrace_scope = 1 in /etc/sysctl.d/ "
			 "and reboot; or judge a strace log recorded on another machine with --replay)",
			 meaning);
		return;
	}
	if (f->yama_scope == 2 && !f->cap_sys_ptrace) {
		snprintf(buf, size,
			 "yama ptrace_scope is 2 (%s), and kvm-as runs without it: run kvm-as as root or "
			 "with CAP_SYS_PTRACE, or let users trace their own children again with: sudo "
			 "sysctl kernel.yama.ptrace_scope=1",
			 meaning);
		return;
	}
	if (meaning)
		snprintf(yama, sizeof(yama), "yama ptrace_scope is %d (%s), which allows kvm-as%s; ",
			 f->yama_scope, meaning, f->yama_scope == 2 ? " (it has CAP_SYS_PTRACE)" : "");
	if (f->tracer_pid > 0)
		snprintf(buf, size,
			 "%skvm-as is itself traced by pid %d (%s), and a process has one tracer: run "
			 "kvm-as outside strace, gdb or another kvm-as",
			 yama, f->tracer_pid, f->tracer_comm[0] ? f->tracer_comm : "?");
	else
		snprintf(buf, size,
			 "%sptrace is forbidden here by something else: a container's seccomp profile, a "
			 "security module (AppArmor, SELinux), or a user namespace without CAP_SYS_PTRACE",
			 yama);
}

/* The value after "Key:" in /proc/self/status, as text (empty if none). */
static void status_field(const char *key, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	size_t n = strlen(key);

	out[0] = '\0';
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			snprintf(out, size, "%s", line + n + 1 + strspn(line + n + 1, " \t"));
			out[strcspn(out, "\n")] = '\0';
			break;
		}
	fclose(f);
}

void ka_ptrace_facts_read(struct ka_ptrace_facts *f)
{
	const char *path = getenv(KA_YAMA_FILE_ENV) ? getenv(KA_YAMA_FILE_ENV) : KA_YAMA_FILE;
	char value[64], comm_path[64];
	FILE *in;

	memset(f, 0, sizeof(*f));
	f->yama_scope = -1;
	if ((in = fopen(path, "re")) != NULL) {
		if (fscanf(in, "%d", &f->yama_scope) != 1 || ka_yama_scope_meaning(f->yama_scope) == NULL)
			f->yama_scope = -1;
		fclose(in);
	}
	status_field("CapEff", value, sizeof(value));
	f->cap_sys_ptrace = (strtoull(value, NULL, 16) >> CAP_SYS_PTRACE_BIT) & 1;
	status_field("TracerPid", value, sizeof(value));
	f->tracer_pid = atoi(value);
	snprintf(comm_path, sizeof(comm_path), "/proc/%d/comm", f->tracer_pid);
	if (f->tracer_pid > 0 && (in = fopen(comm_path, "re")) != NULL) {
		if (fgets(f->tracer_comm, sizeof(f->tracer_comm), in) == NULL)
			f->tracer_comm[0] = '\0';
		f->tracer_comm[strcspn(f->tracer_comm, "\n")] = '\0';
		fclose(in);
	}
}
