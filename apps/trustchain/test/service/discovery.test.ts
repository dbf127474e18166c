// Discovery leases on a ManualClock: lapsed leases leave the zone and the store on the expiry
// tick; TrustChain's own registration never lapses; stored leases reload into a new zone.
import { join } from 'node:path';
import pino from 'pino';
import { ManualClock } from '@stoq/core';
import { Zone } from '../../src/dns/zone';
import { DiscoveryService, recordData, storedRegistrations } from '../../src/service/discovery-service';
import { CaStore } from '../../src/store/ca-store';
import { tempDir } from '../ca/support';

const silent = pino({ level: 'silent' });

function setup(): { clock: ManualClock; store: CaStore; zone: Zone; discovery: DiscoveryService } {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const store = CaStore.open(join(tempDir(), 'trustchain.db'), { create: true });
  const zone = new Zone();
  const discovery = new DiscoveryService({ zone, store, clock, logger: silent });
  return { clock, store, zone, discovery };
}

function lease(zone: Zone, store: CaStore, now: number, instance: string, seconds: number): void {
  const owner = { service: 'caesar', instance };
  const reg = zone.register(owner, zone.instanceRecords(owner, { address: '::1', port: 4433 }), seconds * 1000, now);
  store.putLease({ ...owner, address: '::1', port: 4433, priority: 0, weight: 1, txt: [], expiresAt: reg.expiresAt });
}

test('a lapsed lease leaves the zone and the store on the tick; TrustChain’s own stays', () => {
  const { clock, store, zone, discovery } = setup();
  discovery.registerOwn({ service: 'trustchain', instance: 'trustchain-1' }, { address: '::1', port: 7440 });
  discovery.start();
  lease(zone, store, clock.now(), 'caesar-1', 5);
  lease(zone, store, clock.now(), 'caesar-2', 60);
  clock.advance(6000);
  expect(store.leases().map((l) => l.instance)).toEqual(['caesar-2']);
  expect(zone.lookup('_stoq._udp.caesar.hypermesh', 'SRV', clock.now()).answers.map(recordData)).toEqual(['0 1 4433 caesar-2.caesar.hypermesh.']);
  clock.advance(2 * 3600_000); // past the zone's longest lease: the own registration was renewed
  expect(store.leases()).toEqual([]);
  expect(zone.lookup('_stoq._udp.trustchain.hypermesh', 'SRV', clock.now()).answers.map(recordData)).toEqual(['0 1 7440 trustchain-1.trustchain.hypermesh.']);
  discovery.close();
  store.close();
});

test('stored leases still running reload into a new zone; lapsed ones are dropped from the store', () => {
  const { clock, store, zone } = setup();
  lease(zone, store, clock.now(), 'caesar-1', 5);
  lease(zone, store, clock.now(), 'caesar-2', 60);
  clock.advance(10_000);
  const regs = storedRegistrations(new Zone(), store, clock.now());
  expect(regs.map((r) => r.owner.instance)).toEqual(['caesar-2']);
  expect(store.leases().map((l) => l.instance)).toEqual(['caesar-2']);
  const reloaded = Zone.load(regs, clock.now());
  expect(reloaded.lookup('caesar-2.caesar.hypermesh', 'AAAA', clock.now()).answers.map(recordData)).toEqual(['::1']);
  clock.advance(51_000);
  expect(reloaded.lookup('caesar-2.caesar.hypermesh', 'AAAA', clock.now()).rcode).toBe('NXDOMAIN');
  store.close();
});
