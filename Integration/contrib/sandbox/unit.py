#!/usr/bin/env python3
"""What Integration/contrib/sandbox/run needs from systemd units, without systemd.

    unit.py exec UNIT-FILE INSTANCE [DROP-IN...]
        Prints bash assignments: EXEC (the ExecStart command line, with %i and $VARS expanded
        from Environment= and EnvironmentFile= as systemd expands them), RW (ReadWritePaths),
        CAPS (CapabilityBoundingSet, setpriv's spelling), DIRS (StateDirectory and
        RuntimeDirectory, as paths), PRIVATE_TMP, PROTECT_HOME, PROTECT_SYSTEM, FAMILIES
        (RestrictAddressFamilies), FILTER (SystemCallFilter), MDWE (MemoryDenyWriteExecute).
        Drop-ins are applied in order: a list setting is appended to, an empty one resets it.

    unit.py syscalls FILTER...
        Prints the system calls a SystemCallFilter= allow-list admits, its @groups expanded
        recursively with `systemd-analyze syscall-filter`.

    unit.py trace STRACE-PREFIX ALLOWED-SYSCALLS-FILE BINARY FAMILY...
        Checks what the service did under `strace -ff -o STRACE-PREFIX`, from its execve of
        BINARY on (the sandbox set-up before it is not the service), in that process and every
        process and thread it started (wireguard-go too): every system call is in the allowed
        list, every socket is of an allowed family, and no memory was mapped or made both
        writable and executable (MemoryDenyWriteExecute). Prints each violation and exits 1 if
        there is one; prints the calls the sandbox refused (EROFS, EACCES, EPERM) as notes.
"""
import glob
import re
import shlex
import subprocess
import sys

LIST_KEYS = {"ReadWritePaths", "CapabilityBoundingSet", "StateDirectory", "RuntimeDirectory",
             "RestrictAddressFamilies", "SystemCallFilter", "Environment", "EnvironmentFile"}


def parse(paths, instance):
    """Settings by key; %i and %I (the instance) are replaced everywhere, as systemd does."""
    settings = {}
    for path in paths:
        for raw in open(path, encoding="utf-8"):
            line = raw.strip()
            if not line or line.startswith(("#", ";", "[")) or "=" not in line:
                continue
            key, value = (part.strip() for part in line.split("=", 1))
            value = value.replace("%i", instance).replace("%I", instance)
            if key in LIST_KEYS:
                settings[key] = settings.get(key, []) + [value] if value else []
            else:
                settings[key] = value
    return settings


def environment(settings):
    env = {}
    for assignment in settings.get("Environment", []):
        for word in shlex.split(assignment):
            name, _, value = word.partition("=")
            env[name] = value
    # EnvironmentFile= overrides Environment=, as in systemd.
    for entry in settings.get("EnvironmentFile", []):
        optional = entry.startswith("-")
        path = entry.lstrip("-")
        try:
            lines = open(path, encoding="utf-8").read().splitlines()
        except FileNotFoundError:
            if optional:
                continue
            sys.exit(f"EnvironmentFile {path} is missing (the unit would not start)")
        for line in lines:
            line = line.strip()
            if line and not line.startswith(("#", ";")) and "=" in line:
                name, _, value = line.partition("=")
                env[name.strip()] = value.strip().strip('"')
    return env


def expand_exec(command, env):
    words = []
    for word in shlex.split(command):
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if whole:  # $VAR alone: split at whitespace, removed when empty
            words += env.get(whole.group(1), "").split()
        else:  # ${VAR} inside a word: substituted as is
            words.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), word))
    return words


def emit(name, values):
    print(f"{name}=({' '.join(shlex.quote(v) for v in values)})")


def exec_command(unit, instance, dropins):
    settings = parse([unit] + dropins, instance)
    env = environment(settings)
    emit("EXEC", expand_exec(settings["ExecStart"], env))
    words = lambda key: [w for v in settings.get(key, []) for w in v.split()]
    emit("RW", words("ReadWritePaths"))
    emit("CAPS", [c.lower().removeprefix("cap_") for c in words("CapabilityBoundingSet")])
    emit("DIRS", [f"/var/lib/{d}" for d in words("StateDirectory")] + [f"/run/{d}" for d in words("RuntimeDirectory")])
    emit("FAMILIES", words("RestrictAddressFamilies"))
    emit("FILTER", words("SystemCallFilter"))
    for key, name in [("PrivateTmp", "PRIVATE_TMP"), ("ProtectHome", "PROTECT_HOME"),
                      ("ProtectSystem", "PROTECT_SYSTEM"), ("MemoryDenyWriteExecute", "MDWE")]:
        print(f"{name}={shlex.quote(settings.get(key, 'no'))}")


def syscalls(filters):
    names, seen = set(), set()

    def expand(group):
        if group in seen:
            return
        seen.add(group)
        listing = subprocess.run(["systemd-analyze", "syscall-filter", group], check=True,
                                 capture_output=True, text=True).stdout.splitlines()
        for line in listing[1:]:
            word = line.strip()
            if not word or word.startswith("#"):
                continue
            if word.startswith("@"):
                expand(word)
            else:
                names.add(word)

    for entry in filters:
        if entry.startswith("~"):
            sys.exit(f"deny lists are not supported here: {entry}")
        expand(entry) if entry.startswith("@") else names.add(entry)
    print("\n".join(sorted(names)))


CALL = re.compile(r"^([a-z0-9_]+)\((.*)$")


def trace(prefix, allowed_file, binary, families):
    """PREFIX is strace -ff's -o argument: one file PREFIX.PID per process and thread."""
    allowed = set(open(allowed_file, encoding="utf-8").read().split())
    files = {path.rsplit(".", 1)[1]: path for path in glob.glob(prefix + ".*") if path.rsplit(".", 1)[1].isdigit()}
    lines = {pid: open(path, encoding="utf-8", errors="replace").read().splitlines() for pid, path in files.items()}
    def service_part(calls):
        """From the service's execve on: what came before is the sandbox set-up (mount, setpriv)."""
        start = next((i for i, line in enumerate(calls) if line.startswith(f'execve("{binary}"') and line.endswith("= 0")), None)
        return None if start is None else calls[start:]

    roots = [pid for pid, calls in lines.items() if service_part(calls) is not None]
    for pid in roots:
        lines[pid] = service_part(lines[pid])
    children = {}
    for pid, calls in lines.items():
        for line in calls:
            match = re.match(r"(clone3?|v?fork)\(.*= (\d+)$", line)
            if match:
                children.setdefault(pid, []).append(match.group(2))
    started, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in started:
            started.add(pid)
            todo += children.get(pid, [])
    violations, refused = [], []
    for pid in sorted(started, key=int):
        calls = lines.get(pid, [])
        for line in calls:
            match = CALL.match(line)
            if not match:
                continue
            call, rest = match.groups()
            where = f"[{pid}] {line[:160]}"
            if call not in allowed:
                violations.append(f"system call {call} is not in the filter: {where}")
            if call in ("socket", "socketpair"):
                family = rest.split(",", 1)[0].strip()
                if family not in families:
                    violations.append(f"socket family {family} is not allowed: {where}")
            if call in ("mmap", "mprotect", "pkey_mprotect") and "PROT_EXEC" in rest and \
                    ("PROT_WRITE" in rest or call != "mmap"):
                violations.append(f"write+execute memory (MemoryDenyWriteExecute): {where}")
            if re.search(r"= -1 (EROFS|EACCES|EPERM) ", rest):
                refused.append(where)
    if not roots:
        violations.append(f"the service never started (no execve of {binary} in the trace)")
    for line in refused[:20]:
        print(f"note: refused by the sandbox: {line}")
    for line in violations[:40]:
        print(f"VIOLATION: {line}")
    print(f"traced {len(started)} processes and threads")
    return 1 if violations else 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "exec":
        exec_command(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "syscalls":
        syscalls(sys.argv[2:])
    elif len(sys.argv) >= 5 and sys.argv[1] == "trace":
        sys.exit(trace(sys.argv[2], sys.argv[3], sys.argv[4], set(sys.argv[5:])))
    else:
        sys.exit(__doc__)
