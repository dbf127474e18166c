// Run outcomes: the engine's names and their wire numbers (catalog.proto RunOutcome; appended only).
export const RUN_OUTCOMES = ['OK', 'TRAP', 'OUT_OF_FUEL', 'MEMORY_LIMIT', 'TABLE_LIMIT', 'STACK_OVERFLOW', 'TIMEOUT', 'JS_EXCEPTION'] as const;
export type RunOutcomeName = (typeof RUN_OUTCOMES)[number];

export function outcomeNumber(name: string): number {
  const i = RUN_OUTCOMES.indexOf(name as RunOutcomeName);
  if (i < 0) throw new Error(`unknown run outcome ${JSON.stringify(name)}`);
  return i;
}

export function outcomeName(n: number): RunOutcomeName {
  const name = RUN_OUTCOMES[n];
  if (name === undefined) throw new Error(`unknown run outcome number ${n}`);
  return name;
}
