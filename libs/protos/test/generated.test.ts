// The generated modules match their .proto files, so a .proto edit without regeneration fails.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { trustchain } from '../src';

describe('@stoq/protos', () => {
  it('generated TypeScript is up to date with proto/', () => {
    expect(() => execFileSync(process.execPath, [join(__dirname, '..', 'scripts', 'generate.js'), '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  it('names TrustChain and its CT log methods by STOQ path', () => {
    expect(trustchain.TrustChainMethods.enroll.path).toBe('trustchain/enroll');
    expect(trustchain.TrustChainMethods.revocations.kind).toBe('server_streaming');
    expect(trustchain.CtMethods.getSth.path).toBe('trustchain/ct/get_sth');
    expect(trustchain.CtMethods.getSth.idempotent).toBe(true);
  });
});
