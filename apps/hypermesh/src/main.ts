// `hypermesh <command>`: wiring only.
//   hypermesh enroll  --config hypermesh.toml [--data-dir D] [--join-token T]
//   hypermesh genesis --chain-id ID --out genesis.json (--config v.toml | --validator name=falcon.pub)...
//   hypermesh serve   --config hypermesh.toml --genesis genesis.json [--data-dir D] [--join-token T]
//                     [--base-timeout-ms 1000] [--empty-block-delay-ms 250] [--broadcast-votes] [--four-proof four-proof.json]
//                     [--caesar-reports on|off] [--reward-grace-ms 10000]
//                     [--snapshot-interval 1000] [--retain-blocks 10000]
//   hypermesh four-proof --ledger-falcon-key caesar/falcon.pub --out four-proof.json [--max-anchor-age-blocks 1000]
//                     [--pow-difficulty 12] [--min-stake 1]
import { parseArgs } from 'node:util';
import { enroll } from './enroll';
import { isHyperMeshError } from './errors';
import { buildFourProofConfig } from './four-proof-command';
import { buildGenesis } from './genesis-command';
import { serve } from './serve';

const USAGE = `usage:
  hypermesh enroll  --config <hypermesh.toml> [--data-dir DIR] [--join-token T]
  hypermesh genesis --chain-id ID --out <genesis.json> (--config <validator.toml> | --validator NAME=falcon.pub)...
  hypermesh serve   --config <hypermesh.toml> --genesis <genesis.json> [--data-dir DIR] [--join-token T]
                    [--base-timeout-ms 1000] [--empty-block-delay-ms 250] [--broadcast-votes] [--four-proof <four-proof.json>]
                    [--caesar-reports on|off] [--reward-grace-ms 10000]
                    [--snapshot-interval 1000] [--retain-blocks 10000]
  hypermesh four-proof --ledger-falcon-key <caesar falcon.pub> --out <four-proof.json> [--max-anchor-age-blocks 1000]
                    [--pow-difficulty 12] [--min-stake 1]`;

function intOption(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${v}`);
  return n;
}

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const { values } = parseArgs({
      args: rest,
      options: {
        config: { type: 'string', multiple: true },
        genesis: { type: 'string' },
        'data-dir': { type: 'string' },
        'join-token': { type: 'string' },
        'chain-id': { type: 'string' },
        out: { type: 'string' },
        validator: { type: 'string', multiple: true },
        'base-timeout-ms': { type: 'string' },
        'empty-block-delay-ms': { type: 'string' },
        'broadcast-votes': { type: 'boolean' },
        'snapshot-interval': { type: 'string' },
        'retain-blocks': { type: 'string' },
        'four-proof': { type: 'string' },
        'caesar-reports': { type: 'string' },
        'reward-grace-ms': { type: 'string' },
        'ledger-falcon-key': { type: 'string' },
        'max-anchor-age-blocks': { type: 'string' },
        'pow-difficulty': { type: 'string' },
        'min-stake': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    });
    if (values.help || command === 'help' || command === '--help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const configs = values.config ?? [];
    switch (command) {
      case 'enroll': {
        if (configs.length !== 1) throw new UsageError('enroll needs one --config');
        const r = await enroll({ configPath: configs[0]!, dataDir: values['data-dir'], joinToken: values['join-token'] });
        process.stdout.write(`${JSON.stringify({ msg: 'hypermesh enrolled', ...r })}\n`);
        return 0;
      }
      case 'genesis': {
        if (!values['chain-id'] || !values.out) throw new UsageError('genesis needs --chain-id and --out');
        const sha256 = await buildGenesis({ chainId: values['chain-id'], out: values.out, configs, validators: values.validator ?? [] });
        process.stdout.write(`${JSON.stringify({ msg: 'hypermesh genesis written', out: values.out, sha256 })}\n`);
        return 0;
      }
      case 'four-proof': {
        if (!values['ledger-falcon-key'] || !values.out) throw new UsageError('four-proof needs --ledger-falcon-key and --out');
        await buildFourProofConfig({
          ledgerFalconKeyPath: values['ledger-falcon-key'],
          out: values.out,
          maxAnchorAgeBlocks: intOption('max-anchor-age-blocks', values['max-anchor-age-blocks'], 1000, 0, 1_000_000),
          ...(values['pow-difficulty'] !== undefined ? { powDifficulty: intOption('pow-difficulty', values['pow-difficulty'], 12, 0, 64) } : {}),
          ...(values['min-stake'] !== undefined ? { minStake: values['min-stake'] } : {}),
        });
        process.stdout.write(`${JSON.stringify({ msg: 'hypermesh four-proof rules written', out: values.out })}\n`);
        return 0;
      }
      case 'serve': {
        if (configs.length !== 1 || !values.genesis) throw new UsageError('serve needs one --config and --genesis');
        const baseTimeoutMs = intOption('base-timeout-ms', values['base-timeout-ms'], 1000, 100, 600_000);
        const emptyBlockDelayMs = intOption('empty-block-delay-ms', values['empty-block-delay-ms'], 250, 0, 60_000);
        if (emptyBlockDelayMs * 4 > baseTimeoutMs) throw new UsageError('--empty-block-delay-ms must be at most a quarter of --base-timeout-ms (a paced proposal must not look like a failed leader)');
        const reports = values['caesar-reports'] ?? 'on';
        if (reports !== 'on' && reports !== 'off') throw new UsageError(`--caesar-reports is on or off, got ${reports}`);
        const rewardGraceMs = intOption('reward-grace-ms', values['reward-grace-ms'], 10_000, 0, 3_600_000);
        // 0 turns snapshots (and so pruning and state sync) off.
        const snapshotInterval = intOption('snapshot-interval', values['snapshot-interval'], 1000, 0, 10_000_000);
        const retainBlocks = intOption('retain-blocks', values['retain-blocks'], 10_000, 1, 100_000_000);
        return await serve({
          configPath: configs[0]!,
          genesisPath: values.genesis,
          dataDir: values['data-dir'],
          joinToken: values['join-token'],
          baseTimeoutMs,
          emptyBlockDelayMs,
          broadcastVotes: values['broadcast-votes'] === true,
          ...(values['four-proof'] ? { fourProofPath: values['four-proof'] } : {}),
          caesarReports: reports === 'on',
          rewardGraceMs,
          snapshotInterval,
          retainBlocks,
        });
      }
      default:
        throw new UsageError(command === undefined ? 'a command is required' : `unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || isHyperMeshError(err, 'USAGE')) {
      process.stderr.write(`hypermesh: ${(err as Error).message}\n${USAGE}\n`);
      return 2;
    }
    const code = (err as { code?: unknown }).code;
    process.stderr.write(`hypermesh: ${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}\n`);
    return 1;
  }
}
