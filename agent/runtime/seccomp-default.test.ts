import { strict as assert } from 'node:assert';
import { gzipSync } from 'node:zlib';
import { DEFAULT_CAPS } from './security.js';
import { defaultSeccompProfile, type HostFileReader, kernelRunsX32 } from './seccomp-default.js';

/** A host with these files (a fake /proc, /sys and /boot: the point is which file says what). */
const host =
  (files: Record<string, string | Buffer>): HostFileReader =>
  (path) => {
    const f = files[path];
    return f === undefined ? undefined : Buffer.from(f);
  };

const X32_ABI = 'CONFIG_X86_64=y\nCONFIG_X86_X32_ABI=y\nCONFIG_IA32_EMULATION=y\n';
const NO_X32 = 'CONFIG_X86_64=y\n# CONFIG_X86_X32_ABI is not set\nCONFIG_IA32_EMULATION=y\n';
const DEBIAN = `${X32_ABI}CONFIG_X86_X32_DISABLED=y\n`;

describe('RuntimeDefault seccomp profile', () => {
  it('keeps x32 when the kernel configuration cannot be read', () => {
    assert.equal(kernelRunsX32(host({}), '6.1.0-test'), true);
  });

  it('drops x32 for a kernel built without CONFIG_X86_X32_ABI (/proc/config.gz or /boot/config-<release>)', () => {
    assert.equal(kernelRunsX32(host({ '/proc/config.gz': gzipSync(NO_X32) }), '6.1.0-test'), false);
    assert.equal(kernelRunsX32(host({ '/boot/config-6.1.0-test': NO_X32 }), '6.1.0-test'), false);
    assert.equal(kernelRunsX32(host({ '/boot/config-6.1.0-other': NO_X32 }), '6.1.0-test'), true, 'another kernel\'s configuration says nothing');
    assert.equal(kernelRunsX32(host({ '/proc/config.gz': gzipSync(X32_ABI) }), '6.1.0-test'), true);
  });

  it('follows Debian\'s syscall.x32 switch: off by default, on when booted with it', () => {
    const boot = { '/boot/config-6.1.0-test': DEBIAN };
    assert.equal(kernelRunsX32(host({ ...boot, '/proc/cmdline': 'root=/dev/vda1 quiet\n' }), '6.1.0-test'), false);
    assert.equal(kernelRunsX32(host({ ...boot, '/proc/cmdline': 'root=/dev/vda1 syscall.x32=y quiet\n' }), '6.1.0-test'), true);
    assert.equal(kernelRunsX32(host({ ...boot, '/proc/cmdline': 'root=/dev/vda1 syscall.x32\n' }), '6.1.0-test'), true);
    assert.equal(kernelRunsX32(host({ '/boot/config-6.1.0-test': X32_ABI, '/proc/cmdline': 'syscall.x32=0' }), '6.1.0-test'), false);
    // The running setting, where the kernel shows it, overrides what the configuration and command line suggest.
    assert.equal(kernelRunsX32(host({ ...boot, '/sys/module/syscall/parameters/x32': 'Y\n' }), '6.1.0-test'), true);
    assert.equal(kernelRunsX32(host({ '/boot/config-6.1.0-test': X32_ABI, '/sys/module/syscall/parameters/x32': 'N\n' }), '6.1.0-test'), false);
  });

  it('lists x86_64 and x86 always, and x32 exactly when this kernel runs it', () => {
    const arches = defaultSeccompProfile(DEFAULT_CAPS).architectures ?? [];
    assert.deepEqual(arches.slice(0, 2), ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
    assert.equal(arches.includes('SCMP_ARCH_X32'), kernelRunsX32());
  });
});
