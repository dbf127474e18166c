// The reward reporter's pure core: which heights a validator reports, when, and how it backs off.
import { RewardSchedule, backoffDelay, type RewardScheduleOptions } from '../src/caesar/reward-schedule';

const opts = (o: Partial<RewardScheduleOptions> = {}): RewardScheduleOptions => ({
  self: 0,
  validators: 4,
  reporters: 2,
  graceMs: 10_000,
  maxInFlight: 4,
  window: 64,
  backoff: { initialMs: 500, maxMs: 30_000 },
  ...o,
});

test('every height has exactly f+1 reporters, ranked h mod N, h+1 mod N, …', () => {
  const schedules = [0, 1, 2, 3].map((self) => new RewardSchedule(opts({ self }), { cursor: 0, tip: 0 }));
  for (let h = 1; h <= 40; h++) {
    const ranks = schedules.map((s) => s.rank(h));
    expect([...ranks].sort()).toEqual([0, 1, 2, 3]);
    expect(schedules[h % 4]!.rank(h)).toBe(0);
    expect(schedules[(h + 1) % 4]!.rank(h)).toBe(1);
  }
});

test('first reporter at once, second after the grace period; the cursor moves over settled and foreign heights', () => {
  // Validator 1: rank 0 for heights 1, 5, 9 …; rank 1 for 4, 8 …; not a reporter of 2, 3, 6, 7 …
  const s = new RewardSchedule(opts({ self: 1 }), { cursor: 0, tip: 0 });
  s.onCommitted(5, 1000);
  expect(s.due(1000)).toEqual([1, 5]);
  expect(s.due(1000)).toEqual([]); // in flight
  expect(s.nextWakeAt(1000)).toBe(11_000);
  s.onAnswer(1, 'settled', 1001);
  expect(s.cursor).toBe(3); // 2 and 3 are not this validator's
  expect(s.due(10_999)).toEqual([]);
  expect(s.due(11_000)).toEqual([4]);
  expect(s.nextWakeAt(11_000)).toBeNull(); // everything in flight: the answers will tell
  s.onAnswer(4, 'settled', 11_001);
  s.onAnswer(5, 'settled', 11_002);
  expect(s.cursor).toBe(5);
  expect(s.backlog).toBe(0);
  expect(s.nextWakeAt(11_002)).toBeNull();
});

test('at most maxInFlight calls; a failure pauses everything, then one probe at a time with doubling backoff; a success resumes', () => {
  const s = new RewardSchedule(opts({ self: 0, reporters: 4, graceMs: 0, maxInFlight: 2 }), { cursor: 0, tip: 0 });
  s.onCommitted(10, 0);
  expect(s.due(0)).toEqual([1, 2]);
  s.onAnswer(1, 'retry', 5);
  expect(s.due(5)).toEqual([]);
  expect(s.nextWakeAt(5)).toBeNull(); // 2 is still in flight: one probe at a time
  s.onAnswer(2, 'retry', 6);
  expect(s.nextWakeAt(6)).toBe(6 + 1000);
  expect(s.due(1006)).toEqual([1]); // a single probe
  expect(s.nextWakeAt(1006)).toBeNull();
  s.onAnswer(1, 'retry', 1010);
  expect(s.nextWakeAt(1010)).toBe(1010 + 2000);
  expect(s.due(3010)).toEqual([1]);
  s.onAnswer(1, 'settled', 3011);
  expect(s.cursor).toBe(1);
  expect(s.due(3011)).toEqual([2, 3]);
  expect([1, 2, 3, 10, 100].map((f) => backoffDelay(f, { initialMs: 500, maxMs: 30_000 }))).toEqual([500, 1000, 2000, 30_000, 30_000]);
});

test('a refused height is settled (not retried); heights are answered out of order but the cursor only moves over contiguous ones', () => {
  const s = new RewardSchedule(opts({ reporters: 4, graceMs: 0 }), { cursor: 0, tip: 0 });
  s.onCommitted(3, 0);
  expect(s.due(0)).toEqual([1, 2, 3]);
  s.onAnswer(3, 'settled', 1);
  s.onAnswer(2, 'refused', 1);
  expect(s.cursor).toBe(0);
  s.onAnswer(1, 'settled', 1);
  expect(s.cursor).toBe(3);
  expect(() => s.onAnswer(1, 'settled', 2)).toThrow(/not in flight/);
});

test('memory is bounded by the window whatever the backlog; a restart resumes from the cursor with the grace rule', () => {
  const s = new RewardSchedule(opts({ self: 0, window: 16, reporters: 4, graceMs: 0, maxInFlight: 1 }), { cursor: 0, tip: 0 });
  s.onCommitted(1_000_000, 0); // Caesar down for days: a number, not a million slots
  let now = 0;
  for (let i = 0; i < 30; i++) {
    const [h] = s.due(now);
    s.onAnswer(h!, 'retry', now);
    now = s.nextWakeAt(now)!;
  }
  expect(now).toBeGreaterThan(30_000 * 20); // one probe per 30 s at most
  expect(s.backlog).toBe(1_000_000);
  expect((s as unknown as { slots: Map<number, unknown> }).slots.size).toBe(16);
  // Restart at cursor 100 with tip 104: heights 101.. are due per rank from the restart on.
  const r = new RewardSchedule(opts({ self: 1 }), { cursor: 100, tip: 104 });
  expect(r.due(50)).toEqual([101]); // rank 0 of validator 1
  expect(r.nextWakeAt(50)).toBe(10_050); // 102, rank 1
});
