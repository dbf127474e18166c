// `caesar`: the service (`caesar serve`) and its client commands (commands.ts).
import { serve } from '../main';
import { CliError } from './cli-error';
import { HELP, accountsCreate, balance, history, stake, transfer, whoami } from './commands';

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
      case 'whoami':
        return await whoami(rest);
      case 'accounts':
        if (rest[0] === 'create') return await accountsCreate(rest.slice(1));
        if (rest[0] === 'show') return await balance(rest.slice(1));
        throw new CliError('USAGE', `caesar accounts needs create or show${rest[0] ? `, not "${rest[0]}"` : ''}`);
      case 'transfer':
        return await transfer(rest);
      case 'balance':
        return await balance(rest);
      case 'history':
        return await history(rest);
      case 'stake':
        return await stake(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${HELP}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new CliError('USAGE', `unknown command "${command}" (caesar --help lists them)`);
    }
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`caesar: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
