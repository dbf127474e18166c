// SendBudget / TurnBudget as pure state machines: limits, waiter order and the turn yield,
// with a manual "defer" standing in for setImmediate.
import fc from 'fast-check';
import { SendBudget, WRITE_COST, type BudgetWaiter, type SendLimits } from '../src/send-budget';

const LIMITS: SendLimits = { streamWindow: 100, connectionBytes: 1000, totalBytes: 1500, turnBytes: 10_000 };

function manualDefer(): { defer: (fn: () => void) => void; run(): void; queued(): number } {
  let queue: (() => void)[] = [];
  return {
    defer: (fn) => queue.push(fn),
    run() {
      const q = queue;
      queue = [];
      for (const fn of q) fn();
    },
    queued: () => queue.length,
  };
}

test('a connection has room while it and the transport are within their limits', () => {
  const budget = new SendBudget(LIMITS, manualDefer().defer);
  const a = budget.connection();
  const b = budget.connection();
  a.add(1000);
  expect(a.hasRoom()).toBe(true); // at the limit is still within it
  a.add(1);
  expect(a.hasRoom()).toBe(false);
  expect(b.hasRoom()).toBe(true);
  b.add(500);
  expect(budget.hasRoom()).toBe(false); // 1501 > 1500
  expect(b.hasRoom()).toBe(false); // b is within its own limit but the transport is full
  a.remove(1001);
  expect(a.queuedBytes).toBe(0);
  expect(budget.queuedBytes).toBe(500);
  expect(b.hasRoom()).toBe(true);
});

test('waiters blocked by a shared limit go on oldest first, and only while there is room', () => {
  const budget = new SendBudget(LIMITS, manualDefer().defer);
  const conn = budget.connection();
  conn.add(1200);
  const order: string[] = [];
  const waiter = (name: string, cost: number): BudgetWaiter => ({
    retry() {
      if (!conn.hasRoom()) return false;
      order.push(name);
      conn.add(cost); // what it writes next
      return true;
    },
  });
  budget.wait(waiter('first', 300));
  budget.wait(waiter('second', 300));
  budget.wait(waiter('third', 300));
  conn.remove(400); // 800: first goes (1100), the rest stay blocked
  expect(order).toEqual(['first']);
  expect(budget.waiters).toBe(2);
  conn.remove(600); // 500: second goes (800), third goes (1100)
  expect(order).toEqual(['first', 'second', 'third']);
  expect(budget.waiters).toBe(0);
});

test('removing more than was added is a bug, not a silent negative balance', () => {
  const budget = new SendBudget(LIMITS, manualDefer().defer);
  const conn = budget.connection();
  conn.add(10);
  expect(() => conn.remove(11)).toThrow(/underflow/);
});

test('limits must be positive integers', () => {
  expect(() => new SendBudget({ ...LIMITS, streamWindow: 0 })).toThrow(/streamWindow/);
  expect(() => new SendBudget({ ...LIMITS, turnBytes: 1.5 })).toThrow(/turnBytes/);
});

test('a turn yields once its bytes (plus a per-write cost) are spent, and starts over after I/O', async () => {
  const d = manualDefer();
  const budget = new SendBudget({ ...LIMITS, turnBytes: 10 * (100 + WRITE_COST) }, d.defer);
  const results: (Promise<void> | null)[] = [];
  for (let i = 0; i < 12; i++) results.push(budget.turn.charge(100));
  expect(results.slice(0, 9).every((r) => r === null)).toBe(true);
  const yielded = results[9]!;
  expect(yielded).toBeInstanceOf(Promise);
  expect(results[10]).toBe(yielded); // everyone after the limit waits for the same turn
  expect(d.queued()).toBe(1);
  let resumed = false;
  void yielded.then(() => (resumed = true));
  await Promise.resolve();
  expect(resumed).toBe(false); // not before the loop has run its I/O phase
  d.run();
  await yielded;
  expect(resumed).toBe(true);
  expect(budget.turn.charge(100)).toBeNull(); // a new turn
});

test('property: after any sequence of adds and removes the totals are the sums of the connections', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(3), fc.boolean(), fc.integer({ min: 1, max: 400 })), { maxLength: 200 }),
      (steps) => {
        const budget = new SendBudget(LIMITS, manualDefer().defer);
        const conns = [budget.connection(), budget.connection(), budget.connection(), budget.connection()];
        for (const [i, add, n] of steps) {
          const c = conns[i]!;
          if (add) c.add(n);
          else c.remove(Math.min(n, c.queuedBytes));
        }
        const sum = conns.reduce((s, c) => s + c.queuedBytes, 0);
        expect(budget.queuedBytes).toBe(sum);
        for (const c of conns) {
          expect(c.queuedBytes).toBeGreaterThanOrEqual(0);
          expect(c.hasRoom()).toBe(c.queuedBytes <= LIMITS.connectionBytes && sum <= LIMITS.totalBytes);
        }
      },
    ),
  );
});
