// The effect runner performs effects in order across steps, stops for good when one fails (no
// send after a failed persist), and holds everything after a persist until it is durable.
import type { Effect, Message, SafetyState } from '@stoq/consensus';
import { EffectRunner, type EffectSinks } from '../src/effect-runner';

const state = { lastVotedView: 1, lastProposedView: 0 } as unknown as SafetyState;
const vote = (view: number): Message => ({ type: 'vote', view, height: view, blockHash: '0'.repeat(64), voter: 0, signature: new Uint8Array(1) });

function recorder(failPersist = false) {
  const log: string[] = [];
  const sinks: EffectSinks = {
    persist: () => {
      if (failPersist) throw new Error('disk full');
      log.push('persist');
    },
    send: (to, m) => log.push(`send ${m.type} ${m.type === 'vote' ? m.view : ''} to ${to}`),
    broadcast: (m) => log.push(`broadcast ${m.type}`),
    commit: (c) => log.push(`commit ${c.block.height}`),
    setTimer: (at) => log.push(`timer ${at}`),
    evidence: () => log.push('evidence'),
  };
  return { log, sinks };
}

test('effects run in order, across steps', () => {
  const { log, sinks } = recorder();
  const r = new EffectRunner(sinks, { onFatal: () => undefined });
  r.perform([{ type: 'persist', state, blocks: [] }, { type: 'send', to: 1, message: vote(1) }, { type: 'set-timer', at: 5 }]);
  r.perform([{ type: 'persist', state, blocks: [] }, { type: 'send', to: 2, message: vote(2) }]);
  expect(log).toEqual(['persist', 'send vote 1 to 1', 'timer 5', 'persist', 'send vote 2 to 2']);
});

test('a failed persist: nothing after it is performed, now or later, and it is reported once', () => {
  const { log, sinks } = recorder(true);
  const fatal: Array<[unknown, Effect]> = [];
  const r = new EffectRunner(sinks, { onFatal: (err, e) => fatal.push([err, e]) });
  r.perform([{ type: 'set-timer', at: 1 }, { type: 'persist', state, blocks: [] }, { type: 'send', to: 1, message: vote(1) }]);
  r.perform([{ type: 'send', to: 2, message: vote(2) }]);
  expect(log).toEqual(['timer 1']);
  expect(fatal).toHaveLength(1);
  expect((fatal[0]![0] as Error).message).toBe('disk full');
  expect(fatal[0]![1].type).toBe('persist');
  expect(r.stopped).toBe(true);
});

test('a persist whose sink returns a promise: the effects after it wait for it, in order, across steps', async () => {
  const log: string[] = [];
  let durable!: () => void;
  const sinks: EffectSinks = {
    ...recorder().sinks,
    persist: () => {
      log.push('persist');
      return new Promise<void>((r) => (durable = r));
    },
    send: (to, m) => log.push(`send ${m.type} ${m.type === 'vote' ? m.view : ''} to ${to}`),
  };
  const r = new EffectRunner(sinks, { onFatal: () => undefined });
  r.perform([{ type: 'send', to: 3, message: vote(0) }, { type: 'persist', state, blocks: [] }, { type: 'send', to: 1, message: vote(1) }]);
  r.perform([{ type: 'send', to: 2, message: vote(2) }]);
  expect(log).toEqual(['send vote 0 to 3', 'persist']);
  expect(r.persistCount).toBe(0);
  durable();
  await Promise.resolve();
  expect(log).toEqual(['send vote 0 to 3', 'persist', 'send vote 1 to 1', 'send vote 2 to 2']);
  expect(r.persistCount).toBe(1);
});

test('a persist whose promise rejects is fatal: nothing after it is performed', async () => {
  const { log, sinks } = recorder();
  const fatal: Array<[unknown, Effect]> = [];
  const r = new EffectRunner({ ...sinks, persist: () => Promise.reject(new Error('fdatasync: EIO')) }, { onFatal: (err, e) => fatal.push([err, e]) });
  r.perform([{ type: 'persist', state, blocks: [] }, { type: 'send', to: 1, message: vote(1) }]);
  await new Promise((resolve) => setImmediate(resolve));
  r.perform([{ type: 'send', to: 2, message: vote(2) }]);
  expect(log).toEqual([]);
  expect(fatal.map(([err, e]) => [(err as Error).message, e.type])).toEqual([['fdatasync: EIO', 'persist']]);
  expect(r.stopped).toBe(true);
});
