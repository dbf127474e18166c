// Earn a certificate: a node outside HyperMesh's genesis set proves where, who, what and when
// (a four-proof set), HyperMesh's validators approve it by consensus, TrustChain issues it.
//
//   npm start                               (in another terminal: the ecosystem)
//   node examples/earned-certificate.mjs    writes storage-<n>.pem and prints how to audit it
//
// The ecosystem's cli identity owns a Caesar account, stakes from it, and binds that stake to the
// new node's id (caesar/attest_stake with node_id); TrustChain's admin ({ admin: true }) funds
// the account. The node's keys, plot and proofs are made here; the certificate request goes to
// trustchain/issue_certificate, which needs no identity: the proofs are the credential.
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect } from '@stoq/client';
import { createCsr, derToPem, falconCsrMessage, nativeFalcon, parseHybridCertificate } from '@stoq/core';
import { certificateKeyBinding, certificateRequestContext, createPlot, decodePoStakeProof, encodeFourProofSet, generateFourProofSet } from '@stoq/four-proof';

const MINT = 1 << 14;
const caesar = await connect('caesar');
const treasury = await connect('caesar', { admin: true });
const hypermesh = await connect('hypermesh');
const trustchain = await connect('trustchain');
try {
  // 1. Stake: an account of ours, funded by the treasury, 500 of it bonded.
  const base = BigInt(Date.now()) * 1000n;
  const [mint, account] = [base + 1n, base + 2n].map(String);
  await treasury.createAccounts({ accounts: [{ id: mint, ledger: 1, code: 1, flags: MINT }] });
  await caesar.createAccounts({ accounts: [{ id: account, ledger: 1, code: 10 }] });
  await treasury.createTransfers({ transfers: [{ id: String(base + 3n), debitAccountId: mint, creditAccountId: account, amount: '1000', ledger: 1, code: 1 }] });
  await caesar.stake({ ownerAccountId: account, amount: '500', transferId: String(base + 4n) });

  // 2. The new node: TLS and FALCON keys, its CSR, its node id and plot.
  const instance = `storage-${Date.now() % 100000}`;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const falcon = nativeFalcon.keypair();
  const csr = createCsr({ service: 'storage', instance, tlsKey: privateKey, falconPublicKey: falcon.publicKey, ipAddresses: ['::1'] });
  const nodeId = new Uint8Array(createHash('sha256').update(falcon.publicKey).digest());
  const keyBinding = certificateKeyBinding(new Uint8Array(createPublicKey(privateKey).export({ type: 'spki', format: 'der' })), falcon.publicKey);

  // 3. The proofs: stake bound to this node by its owner, PoTime anchored to a block every
  //    validator has committed by now (two below the tip), all bound to this CSR's keys.
  const attestation = await caesar.attestStake({ ownerAccountId: account, validitySeconds: 3600, nodeId });
  const status = await hypermesh.status({});
  const height = Number(status.committedHeight) - 2;
  const block = await hypermesh.block({ height });
  const set = generateFourProofSet({
    context: certificateRequestContext(keyBinding, nodeId),
    plot: createPlot(nodeId),
    ipv6Address: '::1',
    stake: decodePoStakeProof(attestation.fourProofStake),
    now: Date.now(),
    sequence: 1n,
    anchor: { height: BigInt(height), hash: Uint8Array.from(Buffer.from(block.hash, 'hex')) },
  });

  // 4. Ask TrustChain: HyperMesh validates and commits, TrustChain checks the QC and issues.
  const issued = await trustchain.issueCertificate({ csr, falconSignature: nativeFalcon.sign(falcon.secretKey, falconCsrMessage(csr)), proofSet: encodeFourProofSet(set) });
  const file = `${instance}.pem`;
  writeFileSync(file, issued.chain.map((d) => derToPem(d, 'CERTIFICATE')).join(''));
  const leaf = parseHybridCertificate(issued.chain[0]);
  console.log(JSON.stringify({ file, serial: leaf.serialNumber, approvedAtHeight: leaf.consensusApproval.blockHeight, block: leaf.consensusApproval.blockHash, audit: `npx stoq verify-cert ${file}` }));
} finally {
  await Promise.all([caesar.close(), treasury.close(), hypermesh.close(), trustchain.close()]);
}
