import { strict as assert } from 'node:assert';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ANSWERED, buildHandlerChain, type Filter, type Handler } from './chain.js';

const req = {} as IncomingMessage;
const res = {} as ServerResponse;

describe('buildHandlerChain', () => {
  it('runs the filters outermost first, then the handler, and lets each act once the inner steps are done', async () => {
    const seen: string[] = [];
    const step =
      (name: string): Filter =>
      (q, s, next) => {
        seen.push(`${name} in`);
        return next(q, s).then(() => void seen.push(`${name} out`));
      };
    const handler: Handler = async () => void seen.push('handler');
    const chain = buildHandlerChain([step('a'), step('b'), step('c')], handler);
    await chain(req, res);
    assert.deepEqual(seen, ['a in', 'b in', 'c in', 'handler', 'c out', 'b out', 'a out']);
    seen.length = 0;
    await chain(req, res);
    assert.equal(seen.length, 7, 'the same chain serves the next request');
  });

  it('stops at a filter that answers: the steps inside it and the handler never run', async () => {
    const seen: string[] = [];
    const refuse: Filter = () => {
      seen.push('refused');
      return ANSWERED;
    };
    const never: Filter = (q, s, next) => {
      seen.push('inner filter');
      return next(q, s);
    };
    await buildHandlerChain([refuse, never], async () => void seen.push('handler'))(req, res);
    assert.deepEqual(seen, ['refused']);
  });

  it('is the handler itself when there are no filters', () => {
    const handler: Handler = async () => undefined;
    assert.equal(buildHandlerChain([], handler), handler);
  });
});
