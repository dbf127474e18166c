// Targets that leave DNS are kept for the grace period, longer while they are down, so that a
// crashed service's alert does not resolve because its lease lapsed.
import { TargetTracker } from '../src/core/targets';

const t = { service: 'caesar', instance: 'caesar-1', address: '[::1]:1' };

test('a vanished target is dropped after the grace period, a down one after the longer one', () => {
  const up = new TargetTracker(30_000, 300_000);
  expect(up.update([t], 0).added).toEqual(['caesar/caesar-1']);
  expect(up.update([], 29_000).dropped).toEqual([]);
  expect(up.update([], 31_000).dropped).toEqual(['caesar/caesar-1']);

  const down = new TargetTracker(30_000, 300_000);
  down.update([t], 0);
  const isDown = () => true;
  expect(down.update([], 31_000, isDown).dropped).toEqual([]);
  expect(down.update([], 299_000, isDown).dropped).toEqual([]);
  expect(down.update([], 301_000, isDown).dropped).toEqual(['caesar/caesar-1']);
  // Back in DNS: seen again, grace starts over.
  down.update([t], 400_000);
  expect(down.all().map((x) => x.lastSeen)).toEqual([400_000]);
});
