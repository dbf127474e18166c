// `catalog`: the service (`catalog serve`) and its client commands (commands.ts).
import { serve } from '../main';
import { CliError } from './cli-error';
import { HELP, programs, run, stats, upload, verifyReceiptCommand } from './commands';

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'serve' && command !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  try {
    switch (command) {
      case 'serve':
        return await serve(rest);
      case 'upload':
        return await upload(rest);
      case 'run':
        return await run(rest);
      case 'programs':
        return await programs(rest);
      case 'stats':
        return await stats(rest);
      case 'verify-receipt':
        return await verifyReceiptCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${HELP}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new CliError('USAGE', `unknown command "${command}" (catalog --help lists them)`);
    }
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`catalog: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
