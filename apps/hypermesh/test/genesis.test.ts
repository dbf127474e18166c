// The genesis file: what `hypermesh genesis` writes is what every validator accepts; each
// mistake is refused naming its field; a validator is found by instance name AND FALCON key.
import { isHyperMeshError } from '../src/errors';
import { genesisToJson, parseGenesis, selfInGenesis, type GenesisValidator } from '../src/genesis';
import { falconKeys } from './cluster';

const validators = (): GenesisValidator[] => falconKeys().map((k, id) => ({ id, instance: `hypermesh-${id + 1}`, falconPublicKey: k.publicKey, weight: 1, address: null }));
const doc = (): Record<string, unknown> => JSON.parse(genesisToJson({ chainId: 'c-1', validators: validators() })) as Record<string, unknown>;

test('round trip, with a stable SHA-256', () => {
  const g = parseGenesis(doc());
  expect(g.validators.map((v) => v.instance)).toEqual(['hypermesh-1', 'hypermesh-2', 'hypermesh-3', 'hypermesh-4']);
  expect(g.validatorSet.size).toBe(4);
  expect(parseGenesis(JSON.parse(genesisToJson(g))).sha256).toBe(g.sha256);
});

test.each<[string, (d: Record<string, unknown>) => void, RegExp]>([
  ['unknown key', (d) => (d['extra'] = 1), /unknown key "extra"/],
  ['wrong format', (d) => (d['format'] = 'x'), /format must be/],
  ['bad chain id', (d) => (d['chainId'] = 'a b'), /chainId/],
  ['three validators', (d) => (d['validators'] as unknown[]).pop(), /4 to 100 validators/],
  ['id not the position', (d) => ((d['validators'] as Array<Record<string, unknown>>)[1]!['id'] = 5), /validators\[1\]: id must be 1/],
  ['instance twice', (d) => ((d['validators'] as Array<Record<string, unknown>>)[1]!['instance'] = 'hypermesh-1'), /appears twice/],
  ['short key', (d) => ((d['validators'] as Array<Record<string, unknown>>)[2]!['falconPublicKey'] = 'AAAA'), /1793-byte FALCON-1024/],
  ['bad weight', (d) => ((d['validators'] as Array<Record<string, unknown>>)[0]!['weight'] = 0), /weight/],
  ['IPv4 address', (d) => ((d['validators'] as Array<Record<string, unknown>>)[0]!['address'] = '127.0.0.1:1'), /address/],
])('%s is refused', (_name, mutate, pattern) => {
  const d = doc();
  mutate(d);
  let err: unknown = null;
  try {
    parseGenesis(d);
  } catch (e) {
    err = e;
  }
  expect(isHyperMeshError(err, 'GENESIS_INVALID')).toBe(true);
  expect((err as Error).message).toMatch(pattern);
});

test('a validator is its instance name with its genesis FALCON key', () => {
  const g = parseGenesis(doc());
  expect(selfInGenesis(g, 'hypermesh-3', falconKeys()[2]!.publicKey).id).toBe(2);
  expect(() => selfInGenesis(g, 'hypermesh-9', falconKeys()[2]!.publicKey)).toThrow(/not in the genesis validator set/);
  expect(() => selfInGenesis(g, 'hypermesh-3', falconKeys()[1]!.publicKey)).toThrow(/not the one genesis lists/);
});
