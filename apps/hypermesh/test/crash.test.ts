// Crash consistency with a real process: a child runs a 4-replica cluster on real stores and
// acknowledges every signed message it sent and every block it committed; we SIGKILL it after a
// chosen number of acknowledgements (40, 170, 333) (waiting on its output, not on time), reopen the four
// stores and check: every store opens (no damage), each replica's safety state covers every
// vote, timeout and proposal it sent (so a restarted replica cannot sign twice), every
// acknowledged commit is in the block log with the same hash, and the restarted cluster keeps
// committing the same chain.
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TestCluster, N, useFalconKeys } from './cluster';

jest.setTimeout(120_000);

interface Acks {
  sent: Map<number, { vote: number; timeout: number; proposal: number }>;
  commits: Map<number, Map<number, string>>;
  count: number;
}

function runAndKill(root: string, killAfter: number): Promise<Acks> {
  return new Promise((resolve, reject) => {
    const child = fork(join(__dirname, 'crash-child.js'), [root], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    const acks: Acks = { sent: new Map(), commits: new Map(), count: 0 };
    let killed = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [kind, a, b, c] = line.split(' ');
      if (kind === 'sent') {
        const id = Number(a);
        const s = acks.sent.get(id) ?? { vote: 0, timeout: 0, proposal: 0 };
        const k = b as 'vote' | 'timeout' | 'proposal';
        s[k] = Math.max(s[k], Number(c));
        acks.sent.set(id, s);
      }
      if (kind === 'commit') {
        const m = acks.commits.get(Number(a)) ?? new Map<number, string>();
        m.set(Number(b), c!);
        acks.commits.set(Number(a), m);
      }
      if (kind === 'sent' || kind === 'commit') acks.count++;
      if (!killed && acks.count >= killAfter) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' && killed) resolve(acks);
      else reject(new Error(`child exited early (code ${code}, signal ${signal}) after ${acks.count} acknowledgements`));
    });
  });
}

test.each([40, 170, 333])('SIGKILL after %i acknowledgements loses nothing acknowledged; restarted, the cluster continues', async (killAfter) => {
  const root = mkdtempSync(join(tmpdir(), 'hypermesh-crash-'));
  try {
    const acks = await runAndKill(root, killAfter);
    const keys = JSON.parse(readFileSync(join(root, 'keys.json'), 'utf8')) as Array<{ publicKey: string; secretKey: string }>;
    useFalconKeys(keys.map((k) => ({ publicKey: new Uint8Array(Buffer.from(k.publicKey, 'base64')), secretKey: new Uint8Array(Buffer.from(k.secretKey, 'base64')) })));
    const c = new TestCluster(root); // reopens the four stores (throws on damage)
    for (let id = 0; id < N; id++) {
      const n = c.nodes[id]!;
      const s = n.replica.status();
      const sent = acks.sent.get(id);
      if (sent) {
        expect(s.lastVotedView).toBeGreaterThanOrEqual(Math.max(sent.vote, sent.timeout));
      }
      for (const [height, hash] of acks.commits.get(id) ?? []) expect(n.store.block(height)?.hash).toBe(hash);
    }
    const top = Math.max(...c.nodes.map((n) => n!.store.committedHeight));
    await c.run(() => c.nodes.every((n) => n!.store.committedHeight >= top + 3));
    const common = Math.min(...c.nodes.map((n) => n!.store.committedHeight));
    for (let h = 1; h <= common; h++) {
      const hashes = new Set(c.nodes.map((n) => n!.store.block(h)!.hash));
      expect(hashes.size).toBe(1);
    }
    expect(c.nodes.flatMap((n) => n!.fatal)).toEqual([]);
    c.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
