// Runs the runtime's host commands (ip, mount, unshare, runc kill/delete ...) through one small helper process, with
// exec.ts's contract. A spawn from the runtime's own process forks all of it, and Node waits for the child's exec
// meanwhile: 5-20 ms of blocked event loop and system CPU per command in a process of a few hundred MB (the agent,
// or `ketch up` with the API server in it). The helper, a Python program of python3-minimal, forks only itself.
// Without /usr/bin/python3, or while the helper is down, commands are spawned directly.
// Mounts and unmounts (a pod's tmpfs volumes, a container's overlay rootfs) are the most frequent commands: the helper
// makes those system calls itself (mountFs, unmountFs) instead of running mount(8), which costs a fork, an exec and
// libmount's reading of the mount table each time; where the helper cannot (no ctypes), it runs mount(8) or umount(8).
// So are a pod's network namespace and veth pair (addNetns, deleteNetns): ip-netns(8)'s system calls and rtnetlink
// requests in one helper request, where ip(8) took two processes to set up and two to tear down: 5 ms of CPU for a pod's
// set-up and tear-down instead of 30 ms, and 2.6 ms instead of 15 ms to set up.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CommandError, type RunOptions, type RunResult, run as spawnRun } from './exec.js';
import { logger } from '../../lib/logger.js';

const log = logger('runtime');

const PYTHON = '/usr/bin/python3';

// Frames both ways: u32 length, then fields, each u32 length + bytes.
// Request: id, cwd, timeout ms, input, command, args...   Reply: id, exit code, signal name, stdout, stderr, spawn error.
const HELPER = String.raw`
import os, signal, socket, struct, subprocess, sys, threading
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
netlink = libc is not None and hasattr(socket, "AF_NETLINK")
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
class Failed(Exception):
    def __init__(self, what, e):
        Exception.__init__(self, "%s: %s (%s)" % (what, os.strerror(e), errno_name_of(e)))
        self.errno = e
def nla(kind, data):
    n = 4 + len(data)
    return struct.pack("=HH", n, kind) + data + b"\0" * (-n % 4)
def ifinfo(index=0, up=False):
    # struct ifinfomsg, AF_UNSPEC; IFF_UP set (and changed) when up.
    return struct.pack("=BxHiII", 0, 0, index, 1 if up else 0, 1 if up else 0)
def ifname(name):
    return nla(3, name.encode() + b"\0")  # IFLA_IFNAME
class Netlink:
    # An rtnetlink socket of the calling thread's network namespace: each request acked (NLM_F_ACK), an error raised.
    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
        self.seq = 0
    def close(self):
        self.s.close()
    def call(self, what, kind, flags, body):
        self.seq += 1
        self.s.send(struct.pack("=IHHII", 16 + len(body), kind, 1 | 4 | flags, self.seq, 0) + body)
        while True:
            data, i = self.s.recv(65536), 0
            while i + 20 <= len(data):
                n, t, _, seq, _ = struct.unpack_from("=IHHII", data, i)
                if t == 2 and seq == self.seq:  # NLMSG_ERROR: the ack (0) or -errno
                    (e,) = struct.unpack_from("=i", data, i + 16)
                    if e:
                        raise Failed(what, -e)
                    return
                i += (n + 3) & ~3
NETNS_DIR = "/var/run/netns"
def netns_add(name):
    # ip-netns(8)'s netns_add, in this request's thread (which stays in the new namespace): /var/run/netns a shared
    # mount (bound onto itself the first time), the namespace file, unshare(2) and the bind mount that keeps it.
    path = NETNS_DIR + "/" + name
    try:
        os.mkdir(NETNS_DIR, 0o755)
    except FileExistsError:
        pass
    made = False
    while libc.mount(b"", NETNS_DIR.encode(), b"none", ctypes.c_ulong(0x100000 | 0x4000), None) != 0:  # MS_SHARED|MS_REC
        e = ctypes.get_errno()
        if e != 22 or made:
            raise Failed("mount --make-shared " + NETNS_DIR, e)
        if libc.mount(NETNS_DIR.encode(), NETNS_DIR.encode(), b"none", ctypes.c_ulong(0x1000 | 0x4000), None) != 0:  # MS_BIND|MS_REC
            raise Failed("mount --bind " + NETNS_DIR, ctypes.get_errno())
        made = True
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    except OSError as e:
        raise Failed("creating namespace file " + path, e.errno)
    if libc.unshare(0x40000000) != 0 or libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", ctypes.c_ulong(0x1000), None) != 0:
        e = ctypes.get_errno()
        netns_del(name)
        raise Failed("creating network namespace " + name, e)
def netns_del(name):
    # ip-netns(8)'s netns_delete: a namespace file that is not mounted, or not there, is no error.
    path = NETNS_DIR + "/" + name
    if libc.umount2(path.encode(), 2) != 0 and ctypes.get_errno() not in (2, 22):  # MNT_DETACH; ENOENT, EINVAL
        raise Failed("unmounting " + path, ctypes.get_errno())
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise Failed("removing " + path, e.errno)
def pod_network(name, veth, bridge, address, gateway):
    # ip netns add NAME and lo up; with a veth, what network.ts's two ip -batch runs do, by rtnetlink. The host's
    # socket is opened before this thread enters the new namespace, the pod's after.
    host = Netlink() if veth else None
    try:
        if veth:
            try:
                bridge_index = socket.if_nametoindex(bridge)
            except OSError as e:
                raise Failed("bridge " + bridge, e.errno or 19)
        netns_add(name)
        pod = Netlink()
        try:
            if veth:
                ns = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
                try:
                    # RTM_NEWLINK, NLM_F_CREATE|NLM_F_EXCL: IFLA_LINKINFO {IFLA_INFO_KIND veth, IFLA_INFO_DATA
                    # {VETH_INFO_PEER: ifinfomsg, IFLA_IFNAME eth0, IFLA_NET_NS_FD}}.
                    peer = ifinfo() + ifname("eth0") + nla(28, struct.pack("=I", ns))
                    host.call("creating veth " + veth, 16, 0x600, ifinfo() + ifname(veth) + nla(18, nla(1, b"veth\0") + nla(2, nla(1, peer))))
                finally:
                    os.close(ns)
                # IFLA_MASTER and up; then IFLA_LINKINFO {IFLA_INFO_SLAVE_KIND bridge, IFLA_INFO_SLAVE_DATA
                # {IFLA_BRPORT_MODE 1}}: hairpin on.
                host.call("adding %s to bridge %s" % (veth, bridge), 16, 0, ifinfo(up=True) + ifname(veth) + nla(10, struct.pack("=I", bridge_index)))
                host.call("hairpin on " + veth, 16, 0, ifinfo() + ifname(veth) + nla(18, nla(4, b"bridge\0") + nla(5, nla(4, b"\1"))))
            pod.call("setting lo up", 16, 0, ifinfo(up=True) + ifname("lo"))
            if veth:
                # The thread is in the pod's namespace: this is the index of its eth0.
                eth0 = socket.if_nametoindex("eth0")
                ip, prefix = address.split("/")
                ip = socket.inet_aton(ip)
                # RTM_NEWADDR: ifaddrmsg AF_INET, IFA_LOCAL and IFA_ADDRESS; RTM_NEWROUTE: rtmsg AF_INET, table main,
                # RTPROT_BOOT, scope universe, RTN_UNICAST, RTA_GATEWAY. Both NLM_F_CREATE|NLM_F_EXCL, as ip's add.
                pod.call("adding %s to eth0" % address, 20, 0x600, struct.pack("=BBBBI", 2, int(prefix), 0, 0, eth0) + nla(2, ip) + nla(1, ip))
                pod.call("setting eth0 up", 16, 0, ifinfo(eth0, up=True))
                pod.call("adding default route via " + gateway, 24, 0x600, struct.pack("=BBBBBBBBI", 2, 0, 0, 0, 254, 3, 0, 1, 0) + nla(5, socket.inet_aton(gateway)))
        finally:
            pod.close()
    finally:
        if host:
            host.close()
def pod_network_del(name, veth):
    # ip link del VETH (which takes its peer), ip netns del NAME; what is not there is no error.
    if veth:
        host = Netlink()
        try:
            host.call("deleting " + veth, 17, 0, ifinfo() + ifname(veth))
        except Failed as e:
            if e.errno != 19:  # ENODEV
                raise
        finally:
            host.close()
    netns_del(name)
def syscall(argv):
    # "\0mount" type source target data | "\0umount" flags target | "\0unshare" hostname kind=path...:
    # 0, or mount(8)'s 32 (unshare(1)'s 1) and the error. "\0netns-add" name veth bridge address gateway |
    # "\0netns-del" name veth (veth and the rest empty without one): 0, or 1 and the error.
    if argv[0] in ("\0netns-add", "\0netns-del"):
        try:
            (pod_network if argv[0] == "\0netns-add" else pod_network_del)(*argv[1:])
            return 0, b""
        except Exception as e:  # Failed, or an OSError of a socket: answered, never left pending
            return 1, str(e).encode()
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
        if argv[0].startswith("\0netns") and not netlink:
            # The caller runs ip(8) itself (two processes for a setup).
            reply(rid, code, sig, so, se, b"\0fallback")
            return
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
# At the end of stdin, no interpreter shutdown: it aborts ("could not acquire lock for <_io.BufferedWriter
# name='<stdout>'>") when a request's thread is still in its reply's write.
with lock:
    os._exit(0)
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

/** A pod's veth pair and address (CommandRunner.addNetns). */
export interface PodLink {
  /** The host's end, on the bridge; the other end is the netns's eth0. */
  hostVeth: string;
  bridge: string;
  /** The pod's address on eth0 with its prefix length (10.244.0.2/24). */
  address: string;
  gateway: string;
}

/** A command, its arguments and its input. */
type Step = [cmd: string, args: string[], input?: string];

interface Pending {
  cmd: string;
  args: string[];
  opts: RunOptions;
  /** The same without the helper. */
  fallback: () => Promise<RunResult>;
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

  /**
   * `ip netns add NETNS` with lo up in it; with `link`, also the veth pair on the bridge (up, hairpin on) with its peer
   * as eth0 in the netns, and there the address on eth0, eth0 up and the default route via the gateway. The helper
   * makes it all by rtnetlink in one request; without the helper (or ctypes), ip(8) does in two processes. A failure
   * (a non-zero exit code and the reason) leaves what was made: remove it with deleteNetns.
   */
  addNetns(netns: string, link?: PodLink, opts: Omit<RunOptions, 'input' | 'cwd'> = {}): Promise<RunResult> {
    const wire = ['\0netns-add', netns, link?.hostVeth ?? '', link?.bridge ?? '', link?.address ?? '', link?.gateway ?? ''];
    // Two processes in all (recipe §3): `-n` is not accepted inside a batch, hence the second one.
    const steps: Step[] = link
      ? [
          ['ip', ['-batch', '-'], `netns add ${netns}\nlink add ${link.hostVeth} type veth peer name eth0 netns ${netns}\nlink set ${link.hostVeth} master ${link.bridge} up\nlink set ${link.hostVeth} type bridge_slave hairpin on\n`],
          ['ip', ['-n', netns, '-batch', '-'], `link set lo up\naddr add ${link.address} dev eth0\nlink set eth0 up\nroute add default via ${link.gateway}\n`],
        ]
      : [
          ['ip', ['netns', 'add', netns]],
          ['ip', ['-n', netns, 'link', 'set', 'lo', 'up']],
        ];
    return this.request('ip', ['netns', 'add', netns], wire, opts, () => this.steps(`ip netns add ${netns}`, steps, false, opts));
  }

  /**
   * `ip link del HOSTVETH` (its peer goes with it) and `ip netns del NETNS`, both tried. The helper makes the system
   * calls and counts a link or netns that is not there as removed; ip(8) reports it (exit code 1).
   */
  deleteNetns(netns: string, hostVeth?: string, opts: Omit<RunOptions, 'input' | 'cwd'> = {}): Promise<RunResult> {
    const steps: Step[] = [...(hostVeth ? [['ip', ['link', 'del', hostVeth]] satisfies Step] : []), ['ip', ['netns', 'del', netns]]];
    return this.request('ip', ['netns', 'del', netns], ['\0netns-del', netns, hostVeth ?? ''], opts, () => this.steps(`ip netns del ${netns}`, steps, true, opts));
  }

  /** Runs the commands in order, up to the first that fails unless `all`: the first failure, or the last result. */
  private async steps(label: string, steps: Step[], all: boolean, opts: RunOptions): Promise<RunResult> {
    let failed: RunResult | undefined;
    let last: RunResult = { code: 0, signal: null, stdout: '', stderr: '' };
    for (const [cmd, args, input] of steps) {
      last = await this.run(cmd, args, { ...opts, input, allowFailure: true });
      failed ??= last.code !== 0 ? last : undefined;
      if (failed && !all) break;
    }
    const result = failed ?? last;
    if (result.code !== 0 && !opts.allowFailure) throw new CommandError(label, result);
    return result;
  }

  /** Runs the command (cmd and args: what runs without the helper, unless `fallback` says) as the helper's request `wire`. */
  private request(cmd: string, args: string[], wire: string[], opts: RunOptions, fallback = () => spawnRun(cmd, args, opts)): Promise<RunResult> {
    const helper = this.helper ?? this.start();
    if (!helper?.stdin?.writable) return fallback();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { cmd, args, opts, fallback, resolve, reject });
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
      for (const p of left) p.fallback().then(p.resolve, p.reject);
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
      // A helper without ctypes or netlink sockets: the caller's own way.
      if (spawnError?.toString() === '\0fallback') {
        p.fallback().then(p.resolve, p.reject);
        continue;
      }
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

/** CommandRunner.addNetns, through the shared helper. */
export function addNetns(netns: string, link?: PodLink, opts: Omit<RunOptions, 'input' | 'cwd'> = {}): Promise<RunResult> {
  return shared.addNetns(netns, link, opts);
}

/** CommandRunner.deleteNetns, through the shared helper. */
export function deleteNetns(netns: string, hostVeth?: string, opts: Omit<RunOptions, 'input' | 'cwd'> = {}): Promise<RunResult> {
  return shared.deleteNetns(netns, hostVeth, opts);
}
