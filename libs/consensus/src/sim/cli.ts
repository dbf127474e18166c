// hypermesh-sim: run the consensus simulator from the command line.
//   hypermesh-sim --seed 7 --ticks 20000          one run, JSON summary; exit 1 on a violation
//   hypermesh-sim --seeds 1000 [--from 1]         many seeds; prints failing seeds and a summary
// Options: --replicas N, --byzantine silent,fork,... (or none), --delay MIN,MAX (one-way network
// delay in ticks), --mutation ignore-lock-rule|quorum-f-plus-1|skip-operation-check|keep-abandoned-operations, --ops-per-second R. The simulated time / real time ratio is measured here, outside the run.
import { performance } from 'node:perf_hooks';
import type { UnsafeMutationForTests } from '../safety';
import { BYZANTINE_BEHAVIOURS, type ByzantineBehaviour } from './byzantine';
import type { SimulationOptions } from './profile';
import { runSimulation, type SimulationResult } from './simulation';

interface CliArgs {
  seed: number | null;
  seeds: number | null;
  from: number;
  ticks: number;
  base: Omit<SimulationOptions, 'seed' | 'ticks'>;
}

const USAGE = 'usage: hypermesh-sim (--seed N | --seeds K [--from S]) [--ticks T] [--replicas N] [--byzantine b1,b2] [--delay MIN,MAX] [--mutation ignore-lock-rule|quorum-f-plus-1|skip-operation-check|keep-abandoned-operations] [--ops-per-second R] [--empty-block-delay T] [--broadcast-votes yes] [--submit-to-all yes] [--faults yes|no]';

function parse(argv: readonly string[]): CliArgs {
  const args: CliArgs = { seed: null, seeds: null, from: 1, ticks: 20_000, base: {} };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    i++;
    const int = (): number => {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer, got ${value}`);
      return n;
    };
    switch (flag) {
      case '--seed':
        args.seed = int();
        break;
      case '--seeds':
        args.seeds = int();
        break;
      case '--from':
        args.from = int();
        break;
      case '--ticks':
        args.ticks = int();
        break;
      case '--replicas':
        args.base.replicas = int();
        break;
      case '--delay': {
        const m = /^(\d+),(\d+)$/.exec(value);
        if (!m || Number(m[1]) > Number(m[2])) throw new Error(`--delay takes MIN,MAX one-way delay in ticks (ms), got ${value}`);
        args.base.network = { minDelay: Number(m[1]), maxDelay: Number(m[2]) };
        break;
      }
      case '--ops-per-second':
        args.base.opsPerSecond = int();
        break;
      case '--empty-block-delay':
        args.base.emptyBlockDelay = int();
        break;
      case '--broadcast-votes':
        if (value !== 'yes' && value !== 'no') throw new Error(`--broadcast-votes takes yes or no, got ${value}`);
        args.base.broadcastVotes = value === 'yes';
        break;
      case '--byzantine': {
        const list = value === '' || value === 'none' ? [] : value.split(',');
        for (const b of list) if (!(BYZANTINE_BEHAVIOURS as readonly string[]).includes(b)) throw new Error(`unknown Byzantine behaviour ${b} (${BYZANTINE_BEHAVIOURS.join(', ')})`);
        args.base.byzantine = list as ByzantineBehaviour[];
        break;
      }
      case '--submit-to-all':
        args.base.submitToAll = value === 'yes';
        break;
      case '--faults':
        // no: neither partitions nor crashes (loss, delay, Byzantine replicas stay as drawn)
        if (value !== 'yes' && value !== 'no') throw new Error('--faults takes yes or no');
        args.base.partitions = value === 'yes';
        args.base.crashes = value === 'yes';
        break;
      case '--mutation':
        if (value !== 'ignore-lock-rule' && value !== 'quorum-f-plus-1' && value !== 'skip-operation-check' && value !== 'keep-abandoned-operations') throw new Error(`unknown mutation ${value}`);
        args.base.unsafeMutationForTests = value as UnsafeMutationForTests;
        break;
      default:
        throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  if ((args.seed === null) === (args.seeds === null)) throw new Error(`give exactly one of --seed and --seeds\n${USAGE}`);
  return args;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function timed(o: SimulationOptions): { result: SimulationResult; realMs: number } {
  const t0 = performance.now();
  const result = runSimulation(o);
  return { result, realMs: performance.now() - t0 };
}

/** Returns the exit code (also sets process.exitCode). */
export function main(argv: readonly string[]): number {
  let args: CliArgs;
  try {
    args = parse(argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 2;
    return 2;
  }
  if (args.seed !== null) {
    let run: ReturnType<typeof timed>;
    try {
      run = timed({ ...args.base, seed: args.seed, ticks: args.ticks });
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      process.stderr.write(`${e.message}\n`);
      process.exitCode = 2;
      return 2;
    }
    const { result, realMs } = run;
    const summary = {
      ...result,
      realMs: Math.round(realMs),
      simulatedPerReal: Math.round(result.simulatedTicks / realMs),
      // The ratio depends on how busy the simulated cluster is; these two say how busy it was.
      blocksPerSimulatedSecond: round1((result.committedHeight * 1000) / Math.max(1, result.simulatedTicks)),
      realMicrosecondsPerBlock: Math.round((realMs * 1000) / Math.max(1, result.committedHeight)),
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    if (!result.ok) process.stderr.write(`FAILED seed ${result.seed}: ${result.violations[0]!.kind}: ${result.violations[0]!.detail}\nreproduce: hypermesh-sim --seed ${result.seed} ${argv.filter((a, i) => a !== '--seed' && argv[i - 1] !== '--seed').join(' ')}\n`);
    process.exitCode = result.ok ? 0 : 1;
    return process.exitCode;
  }
  let failed = 0;
  let simTicks = 0;
  let realMs = 0;
  let commits = 0;
  const failures: { seed: number; kind: string; detail: string }[] = [];
  for (let s = args.from; s < args.from + args.seeds!; s++) {
    const r = timed({ ...args.base, seed: s, ticks: args.ticks });
    simTicks += r.result.simulatedTicks;
    realMs += r.realMs;
    commits += r.result.committedHeight;
    if (!r.result.ok) {
      failed++;
      const v = r.result.violations[0]!;
      failures.push({ seed: s, kind: v.kind, detail: v.detail });
      process.stderr.write(`FAILED seed ${s}: ${v.kind}: ${v.detail}\n`);
    }
  }
  const summary = {
    seeds: args.seeds,
    from: args.from,
    ticks: args.ticks,
    failed,
    failures: failures.slice(0, 50),
    committedBlocks: commits,
    realMs: Math.round(realMs),
    simulatedPerReal: Math.round(simTicks / realMs),
    blocksPerSimulatedSecond: round1((commits * 1000) / Math.max(1, simTicks)),
    realMicrosecondsPerBlock: Math.round((realMs * 1000) / Math.max(1, commits)),
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  process.exitCode = failed > 0 ? 1 : 0;
  return process.exitCode;
}
