// The wire specification embeds the protobuf definitions verbatim; an outside implementer must
// never read a stale copy.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');
const doc = readFileSync(join(root, 'docs', 'wire-protocol.md'), 'utf8');

test.each(['libs/stoq-core/src/proto/stoq_packet.proto', 'libs/stoq-rpc/src/proto/rpc.proto'])(
  'docs/wire-protocol.md holds the current %s verbatim',
  (path) => {
    const proto = readFileSync(join(root, path), 'utf8').trimEnd();
    expect(doc).toContain(`### 6.${path.includes('stoq_packet') ? 1 : 2} \`${path}\`\n\n\`\`\`proto\n${proto}\n\`\`\``);
  },
);
