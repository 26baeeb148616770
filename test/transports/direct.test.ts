import { describe, expect, it } from 'vitest';
import { ServiceError, type ServiceEvent, type ServiceHandler } from '../../src-main/contract.js';
import { connectDirect } from '../../src-main/transports/direct.js';
import { createFakeService } from './fixtures/fake-service.js';

describe('connectDirect', () => {
  it('round-trips through structuredClone: no shared objects, typed errors, cloned events', async () => {
    const seen: unknown[] = [];
    const result = { nested: { n: 1 } };
    const listeners = new Set<(e: ServiceEvent) => void>();
    const inner: ServiceHandler = {
      async call(op, args) {
        seen.push(args);
        if (op === 'fail') throw new Error('plain error');
        if (op === 'typed') throw new ServiceError('not-found', 'nope', 'id');
        return result;
      },
      subscribe: (l) => (listeners.add(l), () => listeners.delete(l)),
    };
    const direct = connectDirect(inner);
    const args = { a: [1, 2] };
    const got = await direct.call('x', args);
    expect(got).toEqual(result);
    expect(got).not.toBe(result);
    expect(seen[0]).toEqual(args);
    expect(seen[0]).not.toBe(args);

    await expect(direct.call('fail', {})).rejects.toMatchObject({
      name: 'ServiceError',
      code: 'failed',
      message: 'plain error',
    });
    await expect(direct.call('typed', {})).rejects.toMatchObject({ code: 'not-found', field: 'id' });
    await expect(direct.call('x', { f: () => 1 })).rejects.toMatchObject({ code: 'bad-request' });

    const events: ServiceEvent[] = [];
    const off = direct.subscribe((e) => events.push(e));
    const ev: ServiceEvent = { type: 'engine.restarted', reason: 'r' };
    listeners.forEach((l) => l(ev));
    off();
    listeners.forEach((l) => l(ev));
    expect(events).toEqual([ev]);
    expect(events[0]).not.toBe(ev);
  });

  it('works with the fake service and its validation', async () => {
    const direct = connectDirect(createFakeService());
    await expect(direct.call('system.info', {})).resolves.toMatchObject({ app: 'fake' });
    await expect(direct.call('models.rename', { id: 'a' })).rejects.toMatchObject({
      code: 'bad-request',
      field: 'name',
    });
    await expect(direct.call('nope', {})).rejects.toMatchObject({ code: 'unknown-operation' });
  });
});
