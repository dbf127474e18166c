// Keeps this instance published in TrustChain's DNS: registers `_stoq._udp.<service>.hypermesh.
// SRV` + `<instance>.<service>.hypermesh. AAAA` with a lease and refreshes it at a third of its
// length (two refreshes may fail before the records lapse). Stopping deregisters, so a clean
// shutdown disappears at once and a crash disappears when the lease ends.
import { delay, parseIpv6Endpoint, systemClock, type Clock, type Ipv6Endpoint } from '@stoq/core';
import { trustchain as tc } from '@stoq/protos';
import type { RpcClient } from '@stoq/rpc';
import type { Logger } from 'pino';

export interface LeaseKeeperOptions {
  rpc: RpcClient;
  service: string;
  instance: string;
  advertise: Ipv6Endpoint;
  leaseSeconds: number;
  priority: number;
  weight: number;
  txt?: readonly string[];
  logger: Logger;
  clock?: Clock;
}

export class LeaseKeeper {
  private readonly abort = new AbortController();
  private readonly clock: Clock;
  private loop: Promise<void> | null = null;
  private registered = false;

  constructor(private readonly opts: LeaseKeeperOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  /** Registers once (failing loudly if TrustChain refuses), then refreshes in the background. */
  async start(): Promise<tc.RegisterServiceResponse> {
    const res = await this.register();
    this.opts.logger.info({ names: res.names, leaseSeconds: this.opts.leaseSeconds }, 'registered with TrustChain DNS');
    this.loop = this.refresh();
    return res;
  }

  async stop(): Promise<void> {
    this.abort.abort(new Error('stopping'));
    await this.loop;
    if (!this.registered) return;
    try {
      await this.opts.rpc.call(tc.TrustChainMethods.deregisterService, { service: this.opts.service, instance: this.opts.instance }, { timeoutMs: 2000 });
      this.opts.logger.info('deregistered from TrustChain DNS');
    } catch (err) {
      this.opts.logger.warn({ err }, 'could not deregister; the records lapse with the lease');
    }
  }

  private async register(): Promise<tc.RegisterServiceResponse> {
    const ep = parseIpv6Endpoint(this.opts.advertise);
    const res = await this.opts.rpc.call(
      tc.TrustChainMethods.registerService,
      {
        service: this.opts.service,
        instance: this.opts.instance,
        address: ep.address,
        port: ep.port,
        priority: this.opts.priority,
        weight: this.opts.weight,
        leaseSeconds: this.opts.leaseSeconds,
        txt: [...(this.opts.txt ?? [])],
      },
      { timeoutMs: 5000, signal: this.abort.signal },
    );
    this.registered = true;
    return res;
  }

  private async refresh(): Promise<void> {
    const signal = this.abort.signal;
    const every = (this.opts.leaseSeconds * 1000) / 3;
    let failing = false;
    while (!signal.aborted) {
      try {
        await delay(this.clock, failing ? Math.min(every, 1000) : every, signal);
        await this.register();
        if (failing) this.opts.logger.info('discovery lease refreshed again');
        failing = false;
      } catch (err) {
        if (signal.aborted) return;
        if (!failing) this.opts.logger.warn({ err }, 'cannot refresh the discovery lease; retrying');
        failing = true;
      }
    }
  }
}
