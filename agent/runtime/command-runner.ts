// Runs the runtime's host commands (ip, mount, unshare, runc kill/delete ...) through one small helper process, with
// exec.ts's contract. A spawn from the runtime's own process forks all of it, and Node waits for the child's exec
// meanwhile: 5-20 ms of blocked event loop and system CPU per command in a process of a few hundred MB (the agent,
// or `ketch up` with the API server in it). The helper, a Python program of python3-minimal, forks only itself.
// Without /usr/bin/python3, or while the helper is down, commands are spawned directly.
// Mounts and unmounts (a pod's tmpfs volumes, a container's overlay rootfs) are the most frequent commands: the helper
// makes those system calls itself (mountFs, unmountFs) instead of running mount(8), which costs a fork, an exec and
// libmount's reading of the mount table each time; where the helper cannot (no ctypes), it runs mount(8) or umount(8).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CommandError, type RunOptions, type RunResult, run as spawnRun } from './exec.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

const PYTHON = '/usr/bin/python3';

// Frames both ways: u32 length, then fields, each u32 length + bytes.
// Request: id, cwd, timeout ms, input, command, args...   Reply: id, exit code, signal name, stdout, stderr, spawn error.
const HELPER = String.raw`
import os, signal, struct, subprocess, sys, threading
inp, out, lock = sys.stdin.buffer, sys.stdout.buffer, threading.Lock()
def unpack(b):
    fs, i = [], 0
    while i < len(b):
        (n,) = struct.unpack_from(">I", b, i)
        fs.append(b[i + 4:i + 4 + n])
        i += 4 + n
    return fs
def pack(fs):
    body = b"".join(struct.pack(">I", len(f)) + f for f in fs)
    return struct.pack(">I", len(body)) + body
try:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
except Exception:
    libc = None
NS_FLAGS = {"uts": 0x04000000, "ipc": 0x08000000}
def hold_namespaces(hostname, holds):
    # This request's own thread (it ends with the request) enters new namespaces, names its host and bind-mounts each
    # namespace onto its file, which keeps the namespace when the thread is gone (as ip-netns(8) does): unshare(1) and
    # hostname(1) without a fork or an exec. UTS and IPC namespaces are per thread; the mount lands in the helper's
    # mount namespace, which the thread keeps.
    flags = 0
    for kind, _ in holds:
        flags |= NS_FLAGS[kind]
    if libc.unshare(flags) != 0 or (hostname and libc.sethostname(hostname, len(hostname)) != 0):
        return ctypes.get_errno()
    for kind, path in holds:
        if libc.mount(("/proc/thread-self/ns/" + kind).encode(), path.encode(), None, ctypes.c_ulong(4096), None) != 0:
            return ctypes.get_errno()
    return 0
def syscall(argv):
    # "\0mount" type source target data | "\0umount" flags target | "\0unshare" hostname kind=path...:
    # 0, or mount(8)'s 32 (unshare(1)'s 1) and the error.
    if argv[0] == "\0unshare":
        holds = [a.split("=", 1) for a in argv[2:]]
        e = hold_namespaces(argv[1].encode(), holds)
        if e == 0:
            return 0, b""
        return 1, ("holding %s namespaces: %s (%s)" % ("+".join(k for k, _ in holds), os.strerror(e), errno_name_of(e))).encode()
    if argv[0] == "\0mount":
        r = libc.mount(argv[2].encode(), argv[3].encode(), argv[1].encode(), ctypes.c_ulong(0), argv[4].encode())
        what = "mounting %s on %s" % (argv[1], argv[3])
    else:
        r = libc.umount2(argv[2].encode(), int(argv[1]))
        what = "unmounting %s" % argv[2]
    if r == 0:
        return 0, b""
    e = ctypes.get_errno()
    return 32, ("%s: %s (%s)" % (what, os.strerror(e), errno_name_of(e))).encode()
def command(argv):
    # The same through mount(8) or umount(8), as CommandRunner.mount and .unmount run them without the helper.
    if argv[0] == "\0unshare":
        return ["unshare"] + ["--%s" % a for a in argv[2:]] + (["hostname", argv[1]] if argv[1] else ["true"])
    if argv[0] == "\0mount":
        return ["mount", "-t", argv[1]] + (["-o", argv[4]] if argv[4] else []) + [argv[2], argv[3]]
    return ["umount"] + (["-l"] if int(argv[1]) & 2 else []) + [argv[2]]
def handle(fs):
    rid, cwd, timeout, data, argv = fs[0], fs[1], int(fs[2] or b"0"), fs[3], [a.decode() for a in fs[4:]]
    code, sig, so, se, err = -1, b"", b"", b"", b""
    if argv[0].startswith("\0"):
        if libc is not None:
            code, se = syscall(argv)
            reply(rid, code, sig, so, se, err)
            return
        argv = command(argv)
    try:
        p = subprocess.Popen(argv, cwd=cwd.decode() or None, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            so, se = p.communicate(data, timeout=timeout / 1000 if timeout else None)
        except subprocess.TimeoutExpired:
            p.kill()
            so, se = p.communicate()
        if p.returncode >= 0:
            code = p.returncode
        else:
            sig = signal.Signals(-p.returncode).name.encode()
    except OSError as e:
        err = ("spawn %s %s" % (argv[0], errno_name(e))).encode()
    reply(rid, code, sig, so, se, err)
def reply(rid, code, sig, so, se, err):
    msg = pack([rid, str(code).encode(), sig, so, se, err])
    with lock:
        out.write(msg)
        out.flush()
def errno_name_of(n):
    import errno
    return errno.errorcode.get(n, str(n))
def errno_name(e):
    return errno_name_of(e.errno)
def read(n):
    b = b""
    while len(b) < n:
        c = inp.read(n - len(b))
        if not c:
            return None
        b += c
    return b
while True:
    h = read(4)
    body = h and read(struct.unpack(">I", h)[0])
    if body is None:
        break
    threading.Thread(target=handle, args=(unpack(body),), daemon=True).start()
`;

function pack(fields: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    const b = typeof f === 'string' ? Buffer.from(f) : f;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    parts.push(len, b);
  }
  const body = Buffer.concat(parts);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function unpack(body: Buffer): Buffer[] {
  const fields: Buffer[] = [];
  for (let i = 0; i < body.length; ) {
    const n = body.readUInt32BE(i);
    fields.push(body.subarray(i + 4, i + 4 + n));
    i += 4 + n;
  }
  return fields;
}

interface Pending {
  cmd: string;
  args: string[];
  opts: RunOptions;
  resolve: (r: RunResult) => void;
  reject: (err: Error) => void;
}

export class CommandRunner {
  private helper: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly python = PYTHON) {}

  run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.request(cmd, args, [cmd, ...args], opts);
  }

  /**
   * `mount -t type -o data source target` of a filesystem that takes no mount flags (tmpfs, overlay), made by the
   * helper's own mount(2). Failure is exit code 32 (mount(8)'s) with the errno in stderr. Give absolute paths: the
   * helper's working directory is not the caller's.
   */
  mount(type: string, source: string, target: string, data: string, opts: Omit<RunOptions, 'input' | 'cwd'> = {}): Promise<RunResult> {
    return this.request('mount', ['-t', type, ...(data ? ['-o', data] : []), source, target], ['\0mount', type, source, target, data], opts);
  }

  /** `umount target` (`umount -l target` when lazy), made by the helper's own umount2(2) (MNT_DETACH when lazy). */
  unmount(target: string, lazy = false, opts: Omit<RunOptions, 'input' | 'cwd'> = {}): Promise<RunResult> {
    return this.request('umount', [...(lazy ? ['-l'] : []), target], ['\0umount', lazy ? '2' : '0', target], opts);
  }

  /**
   * `unshare --uts=FILE --ipc=FILE hostname NAME`: new namespaces (of the kinds given), each kept by a bind mount on
   * its file (which must exist), with the host name set in the UTS one. Made by the helper's thread for the request,
   * which calls unshare(2), sethostname(2) and mount(2) and then ends (exit code 1 and the errno on failure).
   */
  holdNamespaces(holds: { kind: 'uts' | 'ipc'; path: string }[], hostname: string, opts: Omit<RunOptions, 'input' | 'cwd'> = {}): Promise<RunResult> {
    const flags = holds.map((h) => `${h.kind}=${h.path}`);
    return this.request('unshare', [...flags.map((f) => `--${f}`), ...(hostname ? ['hostname', hostname] : ['true'])], ['\0unshare', hostname, ...flags], opts);
  }

  /** Runs the command (cmd and args: what runs without the helper) as the helper's request `wire`. */
  private request(cmd: string, args: string[], wire: string[], opts: RunOptions): Promise<RunResult> {
    const helper = this.helper ?? this.start();
    if (!helper?.stdin?.writable) return spawnRun(cmd, args, opts);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { cmd, args, opts, resolve, reject });
      // While a command runs, the helper's pipe keeps this process alive, as a child of its own would.
      (helper.stdout as unknown as { ref?: () => void } | null)?.ref?.();
      helper.stdin?.write(pack([String(id), opts.cwd ?? '', String(opts.timeoutMs ?? 0), opts.input ?? '', ...wire]));
    });
  }

  /** Ends the helper (it exits at the end of its stdin). */
  close(): void {
    this.helper?.stdin?.end();
    this.helper = undefined;
  }

  private start(): ChildProcess | undefined {
    if (!existsSync(this.python)) return undefined;
    // A session of its own: the terminal's Ctrl-C (SIGINT to the foreground process group) would end it with a Python
    // traceback while the runtime still needs it to remove the pods; it ends at the end of its stdin instead.
    const child = spawn(this.python, ['-I', '-S', '-c', HELPER], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    this.helper = child;
    child.on('error', (err) => log.warn('command helper failed', { error: String(err) }));
    // A helper that died closes its stdin (EPIPE): the 'error' and 'exit' handlers already report and replace it.
    child.stdin?.on('error', () => undefined);
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
    child.stdout?.on('data', (b: Buffer) => this.onData(b));
    child.on('close', () => {
      if (this.helper === child) this.helper = undefined;
      // What it had not answered runs again without it.
      const left = [...this.pending.values()];
      this.pending.clear();
      for (const p of left) spawnRun(p.cmd, p.args, p.opts).then(p.resolve, p.reject);
    });
    return child;
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 4) {
      const n = this.buf.readUInt32BE(0);
      if (this.buf.length < 4 + n) return;
      const [id, code, signal, stdout, stderr, spawnError] = unpack(this.buf.subarray(4, 4 + n));
      this.buf = this.buf.subarray(4 + n);
      const p = this.pending.get(Number(id?.toString()));
      if (!p) continue;
      this.pending.delete(Number(id?.toString()));
      if (!this.pending.size) (this.helper?.stdout as unknown as { unref?: () => void } | null)?.unref?.();
      if (spawnError?.length) {
        const message = spawnError.toString();
        p.reject(Object.assign(new Error(message), { code: message.slice(message.lastIndexOf(' ') + 1), syscall: `spawn ${p.cmd}`, path: p.cmd }));
        continue;
      }
      const result: RunResult = {
        code: Number(code?.toString()),
        signal: (signal?.length ? signal.toString() : null) as NodeJS.Signals | null,
        stdout: stdout?.toString() ?? '',
        stderr: stderr?.toString() ?? '',
      };
      if (result.code !== 0 && !p.opts.allowFailure) p.reject(new CommandError(`${p.cmd} ${p.args.slice(0, 3).join(' ')}`, result));
      else p.resolve(result);
    }
  }
}

const shared = new CommandRunner();

/** exec.ts's run(), through the shared helper. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return shared.run(cmd, args, opts);
}

/** CommandRunner.mount, through the shared helper. */
export function mountFs(type: string, source: string, target: string, data: string, opts: Omit<RunOptions, 'input' | 'cwd'> = {}): Promise<RunResult> {
  return shared.mount(type, source, target, data, opts);
}

/** CommandRunner.holdNamespaces, through the shared helper. */
export function holdNamespaces(holds: { kind: 'uts' | 'ipc'; path: string }[], hostname: string, opts: Omit<RunOptions, 'input' | 'cwd'> = {}): Promise<RunResult> {
  return shared.holdNamespaces(holds, hostname, opts);
}

/** CommandRunner.unmount, through the shared helper. */
export function unmountFs(target: string, lazy = false, opts: Omit<RunOptions, 'input' | 'cwd'> = {}): Promise<RunResult> {
  return shared.unmount(target, lazy, opts);
}
