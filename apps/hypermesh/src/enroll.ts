// `hypermesh enroll`: first start without serving: enrolls with TrustChain (join token), so the
// identity (and its FALCON key, which genesis lists) exists before the genesis file is built.
import { runService } from '@stoq/service';

export interface EnrollOptions {
  configPath: string;
  dataDir?: string;
  joinToken?: string;
}

export async function enroll(o: EnrollOptions): Promise<{ instance: string; falconPublicKey: string; fingerprint: string }> {
  const svc = await runService({
    service: 'hypermesh',
    configPath: o.configPath,
    overrides: { ...(o.dataDir ? { dataDir: o.dataDir } : {}), ...(o.joinToken ? { joinToken: o.joinToken } : {}) },
    handleSignals: false,
    setup: () => undefined,
  });
  const id = svc.identity();
  await svc.stop('enrolled');
  return { instance: id.instance, falconPublicKey: Buffer.from(id.falconPublicKey).toString('base64'), fingerprint: id.fingerprint };
}
