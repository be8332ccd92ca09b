// The console helper behind TTY exec, attach and `tty: true` containers: a small Python program that runs runc on a
// pseudo-terminal of its own and relays it to plain pipes, which Node can read (Node cannot open a pty).
//
// Why not runc's --console-socket: runc accepts it only with --detach, and a detached process's exit status reaches
// only a child subreaper (prctl), which python3-minimal cannot set (no ctypes). A foreground runc with a terminal as
// its stdio does the rest itself: it allocates the container's pty, copies between the two, keeps the container
// side in step with our terminal's size on SIGWINCH, and exits with the process's exit status.
//
// The source is kept here as a string, so that it ships with dist/ (tsc copies no .py files), and written to the
// runtime's state directory on first use. It needs only modules of Debian's python3-minimal.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError } from '../cri/errors.js';

/** Debian's interpreter, not whatever python3 comes first in PATH. */
export const PYTHON = '/usr/bin/python3';

export const HELPER_SOURCE = String.raw`# ketch console helper: runs a command (runc) on a new pseudo-terminal and relays it to pipes. The terminal is raw:
# the command (runc) puts the container's own terminal behind it, which does the line editing and output processing.
# usage: python3 HELPER [--stdin] [--control FD] [--size COLSxROWS] -- CMD [ARG...]
#   fd 0   input for the terminal, read only with --stdin; at its end the terminal gets ^D (its EOF character)
#   fd 1   everything the terminal shows
#   fd 2   this helper's own errors
#   FD     with --control: resize requests, one "COLS ROWS" line each
# SIGHUP, SIGINT and SIGTERM are passed on to the command. Exits with the command's status (128+N for signal N).
import errno, fcntl, os, select, signal, struct, sys

TCGETS, TCSETS, TIOCSWINSZ, TIOCSCTTY = 0x5401, 0x5402, 0x5414, 0x540E


def warn(msg):
    try:
        os.write(2, ("console helper: %s\n" % msg).encode())
    except OSError:
        pass


def parse_size(text, sep):
    parts = text.strip().split(sep)
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError("want COLS%sROWS, got %r" % (sep, text.strip()))
    cols, rows = int(parts[0]), int(parts[1])
    if not (0 < cols < 65536 and 0 < rows < 65536):
        raise ValueError("size out of range: %r" % text.strip())
    return cols, rows


def make_raw(fd):
    # What runc makes of its terminal once the container's pty is up, set from the start so that nothing is echoed
    # or translated twice before: cfmakeraw on the kernel's struct termios (4 flag words, the line discipline, 19
    # control characters), but with output processing kept, since runc clears ONLCR on the container's pty and this
    # one adds the \r to \n instead.
    iflag, oflag, cflag, lflag, line, cc = struct.unpack("IIIIB19s", fcntl.ioctl(fd, TCGETS, bytes(36)))
    iflag &= ~(0o1 | 0o2 | 0o10 | 0o40 | 0o100 | 0o200 | 0o400 | 0o2000)  # IGNBRK BRKINT PARMRK ISTRIP INLCR IGNCR ICRNL IXON
    oflag |= 0o1 | 0o4  # OPOST ONLCR
    lflag &= ~(0o10 | 0o100 | 0o2 | 0o1 | 0o100000)  # ECHO ECHONL ICANON ISIG IEXTEN
    cflag = (cflag & ~(0o60 | 0o400)) | 0o60  # CSIZE PARENB, then CS8
    cc = bytearray(cc)
    cc[6], cc[5] = 1, 0  # VMIN, VTIME
    fcntl.ioctl(fd, TCSETS, struct.pack("IIIIB19s", iflag, oflag, cflag, lflag, line, bytes(cc)))


def set_size(fd, size):
    cols, rows = size
    fcntl.ioctl(fd, TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def nonblocking(fd):
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)


def write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


def main(argv):
    use_stdin, size, ctl, i = False, None, None, 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] == "--stdin":
            use_stdin = True
        elif argv[i] == "--size" and i + 1 < len(argv):
            i += 1
            size = parse_size(argv[i], "x")
        elif argv[i] == "--control" and i + 1 < len(argv) and argv[i + 1].isdigit():
            i += 1
            ctl = int(argv[i])
            os.fstat(ctl)
        else:
            raise ValueError("unknown argument %r" % argv[i])
        i += 1
    cmd = argv[i + 1:]
    if not cmd:
        raise ValueError("no command given (after --)")

    master, slave = os.openpty()
    make_raw(slave)
    if size:
        set_size(master, size)
    wake_r, wake_w = os.pipe()
    nonblocking(wake_r)
    nonblocking(wake_w)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda s, f: None)

    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            try:
                # The terminal's controlling process gets SIGHUP when the helper goes away.
                fcntl.ioctl(0, TIOCSCTTY, 0)
            except OSError:
                pass
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            os.execvp(cmd[0], cmd)
        except BaseException as e:
            os.write(2, ("console helper: cannot run %s: %s\r\n" % (cmd[0], e)).encode())
        os._exit(127)
    os.close(slave)

    def forward(sig, frame):
        try:
            os.kill(pid, sig)
        except OSError:
            pass

    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)

    ctl_open = ctl is not None
    nonblocking(master)
    stdin_open, out_open = use_stdin, True
    pending, ctl_buf, status = bytearray(), b"", None

    while True:
        rl = [master, wake_r]
        if stdin_open and len(pending) < 65536:
            rl.append(0)
        if ctl_open:
            rl.append(ctl)
        wl = [master] if pending else []
        # Once the command is gone, what it left on the terminal is drained until the terminal is quiet.
        ready_r, ready_w, _ = select.select(rl, wl, [], None if status is None else 0.2)
        if not ready_r and not ready_w:
            break
        if wake_r in ready_r:
            try:
                os.read(wake_r, 512)
            except BlockingIOError:
                pass
            if status is None:
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = st
        if ctl_open and ctl in ready_r:
            data = os.read(ctl, 4096)
            if not data:
                ctl_open = False
            ctl_buf += data
            while b"\n" in ctl_buf:
                line, ctl_buf = ctl_buf.split(b"\n", 1)
                try:
                    set_size(master, parse_size(line.decode("ascii", "replace"), " "))
                    forward(signal.SIGWINCH, None)
                except (ValueError, OSError) as e:
                    warn("resize ignored: %s" % e)
        if 0 in ready_r:
            data = os.read(0, 65536)
            if data:
                pending += data
            else:
                stdin_open = False
                pending += b"\x04"
        if master in ready_w:
            try:
                del pending[: os.write(master, pending)]
            except BlockingIOError:
                pass
            except OSError:
                pending.clear()
        if master in ready_r:
            try:
                data = os.read(master, 65536)
            except BlockingIOError:
                continue
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                break  # no one holds the terminal any more
            if out_open:
                try:
                    write_all(1, data)
                except OSError:
                    out_open = False

    if status is None:
        _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (ValueError, OSError) as e:
        warn(str(e))
        sys.exit(125)
`;

const written = new Map<string, string>();

/**
 * The command that runs the helper: Debian's python3 on a copy of HELPER_SOURCE in `dir`, written on first use (and
 * again if the directory was removed since). A clear error when python3 is missing.
 */
export async function consoleHelper(dir: string): Promise<string[]> {
  if (!existsSync(PYTHON)) {
    throw new RuntimeError('FailedPrecondition', `a terminal (tty) needs ${PYTHON}: install the Debian package python3-minimal`, false);
  }
  const file = join(dir, `console-${createHash('sha256').update(HELPER_SOURCE).digest('hex').slice(0, 16)}.py`);
  if (written.get(dir) !== file || !existsSync(file)) {
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, HELPER_SOURCE);
    await rename(tmp, file);
    written.set(dir, file);
  }
  return [PYTHON, file];
}

/** The fd on which the helper reads resize lines, when it is started with one (spawn's stdio[3]). */
export const CONTROL_FD = 3;

/** The helper's arguments before the command: whether it reads stdin, takes resizes on CONTROL_FD, and the first size. */
export function helperArgs(opts: { stdin: boolean; control: boolean; size?: TerminalSize }): string[] {
  return [
    ...(opts.stdin ? ['--stdin'] : []),
    ...(opts.control ? ['--control', String(CONTROL_FD)] : []),
    ...(opts.size ? ['--size', `${opts.size.width}x${opts.size.height}`] : []),
    '--',
  ];
}

export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * A resize message of the channel protocol (`{"Width":100,"Height":40}`) as the helper's control line
 * ("100 40\n"); an error naming what is wrong for anything else.
 */
export function resizeLine(payload: Buffer): { size: TerminalSize; line: string } {
  let msg: unknown;
  try {
    msg = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw new Error(`resize: not JSON (${String(err)}): ${JSON.stringify(payload.toString('utf8').slice(0, 80))}`);
  }
  const { Width: width, Height: height } = (typeof msg === 'object' && msg !== null ? msg : {}) as { Width?: unknown; Height?: unknown };
  const valid = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 65536;
  if (!valid(width) || !valid(height)) throw new Error(`resize: want {"Width":W,"Height":H} with 0 < W, H < 65536, got ${JSON.stringify(msg)}`);
  return { size: { width, height }, line: `${width} ${height}\n` };
}
