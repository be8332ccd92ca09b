// Pod CIDRs: parsing, and which routes are as specific as a pod CIDR (the ones that clash with its bridge route).
import assert from 'node:assert/strict';
import { cidrWithin, parseCidr } from './cidr.js';

describe('runtime CIDRs', () => {
  it('parses a pod CIDR to its network and refuses what is not one', () => {
    assert.deepEqual(parseCidr('10.42.0.7/24'), { base: (10 * 256 + 42) * 65536, prefix: 24 });
    assert.throws(() => parseCidr('10.42.0.0/31'), /out of range/);
    assert.throws(() => parseCidr('fd00::/64'), /not an IPv4 CIDR/);
  });

  it('a route clashes when it lies within the pod CIDR, not when it is broader or elsewhere', () => {
    assert.equal(cidrWithin('10.42.0.0/24', '10.42.0.0/16'), true);
    assert.equal(cidrWithin('10.42.0.0/24', '10.42.0.0/24'), true);
    assert.equal(cidrWithin('10.42.3.9/32', '10.42.0.0/16'), true);
    assert.equal(cidrWithin('10.0.0.0/8', '10.42.0.0/16'), false);
    assert.equal(cidrWithin('10.43.0.0/24', '10.42.0.0/16'), false);
    assert.equal(cidrWithin('default', '10.42.0.0/16'), false);
  });
});
