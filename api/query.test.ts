import { strict as assert } from 'node:assert';
import { ApiError } from './errors.js';
import { parseGoBool, parseInt64, parseUint, queryBool } from './query.js';
import { goQuote } from './quote.js';

describe('query values as kube converts them', () => {
  it('booleans: Convert_Slice_string_To_bool (absent, 0 and false in any case are false; the rest true)', () => {
    const falses = [null, '0', 'false', 'False', 'FALSE', 'fAlSe', 'falſe'];
    const trues = ['', '1', 'true', 'True', 'TRUE', 't', 'T', 'yes', 'no', 'off', '00', ' false', 'false ', 'f'];
    for (const v of falses) assert.equal(queryBool(v), false, JSON.stringify(v));
    for (const v of trues) assert.equal(queryBool(v), true, JSON.stringify(v));
  });

  it('strconv.ParseBool (pretty): the twelve spellings, nothing else', () => {
    for (const v of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseGoBool(v), true, v);
    for (const v of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseGoBool(v), false, v);
    for (const v of ['', 'yes', 'tRUE', ' true', '2']) assert.equal(parseGoBool(v), undefined, v);
  });

  it('integers: strconv.ParseInt(v, 10, 64), with Go\'s messages', () => {
    const good: [string, number][] = [['0', 0], ['+5', 5], ['-5', -5], ['007', 7], ['9223372036854775807', 9223372036854775807], ['-9223372036854775808', -9223372036854775808]];
    for (const [v, n] of good) assert.equal(parseInt64(v), n, v);
    const syntax = ['', ' 1', '1 ', '0x10', '1_000', '1e3', '1.0', '+', '-', '٣', '１'];
    for (const v of syntax) {
      assert.throws(() => parseInt64(v), (e: unknown) => e instanceof ApiError && e.code === 400 && e.message === `strconv.ParseInt: parsing ${goQuote(v)}: invalid syntax`, v);
    }
    for (const v of ['9223372036854775808', '-9223372036854775809', '99999999999999999999999']) {
      assert.throws(() => parseInt64(v), (e: unknown) => e instanceof ApiError && e.message === `strconv.ParseInt: parsing "${v}": value out of range`, v);
    }
  });

  it('unsigned 16-bit (ports): no sign, at most 65535', () => {
    assert.equal(parseUint('8080', 16), 8080);
    assert.equal(parseUint('0', 16), 0);
    assert.equal(parseUint('65536', 16), 'strconv.ParseUint: parsing "65536": value out of range');
    assert.equal(parseUint('+80', 16), 'strconv.ParseUint: parsing "+80": invalid syntax');
    assert.equal(parseUint('http', 16), 'strconv.ParseUint: parsing "http": invalid syntax');
  });

  it('quotes as Go\'s %q does', () => {
    assert.equal(goQuote('web'), '"web"');
    assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(goQuote('tab\there\nnl\u0001\u007f'), '"tab\\there\\nnl\\x01\\x7f"');
    assert.equal(goQuote('é ü 日本'), '"é ü 日本"');
    assert.equal(goQuote('\u0085\u00ad\u2028'), '"\\u0085\\u00ad\\u2028"');
  });
});
