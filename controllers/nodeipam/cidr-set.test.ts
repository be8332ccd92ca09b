import assert from 'node:assert/strict';
import { CidrSet, parseCidr } from './cidr-set.js';

describe('node IPAM cidr set', () => {
  it('hands out /24s from 10.42.0.0/16 in order, skipping occupied ones', () => {
    const s = new CidrSet('10.42.0.0/16', 24);
    assert.equal(s.capacity, 256);
    assert.equal(s.allocateNext(), '10.42.0.0/24');
    assert.ok(s.occupy('10.42.1.0/24'));
    assert.equal(s.allocateNext(), '10.42.2.0/24');
    assert.ok(!s.occupy('10.43.0.0/24'), 'outside the cluster CIDR');
    assert.ok(!s.occupy('10.42.0.0/25'), 'another mask size');
  });

  it('runs out, and reuses released subnets', () => {
    const s = new CidrSet('192.168.0.0/30', 31);
    assert.equal(s.allocateNext(), '192.168.0.0/31');
    assert.equal(s.allocateNext(), '192.168.0.2/31');
    assert.equal(s.allocateNext(), undefined);
    s.release('192.168.0.0/31');
    assert.equal(s.allocateNext(), '192.168.0.0/31');
  });

  it('rejects bad CIDRs and mask sizes', () => {
    assert.throws(() => parseCidr('10.42.0.0'), /invalid CIDR/);
    assert.throws(() => parseCidr('10.420.0.0/16'), /invalid IPv4/);
    assert.throws(() => new CidrSet('10.42.0.0/16', 8), /does not fit/);
    assert.deepEqual(parseCidr('10.42.7.9/16'), { base: parseCidr('10.42.0.0/16').base, prefix: 16 });
  });
});
