// Service metrics NGauge scrapes from `hypermesh/metrics`.
import type { ServiceMetricSample } from '@stoq/rpc';
import type { LoadedGenesis } from './genesis';
import type { ValidatorNetwork } from './network/validator-network';
import type { ProofVerifier } from './proofs/proof-verifier';
import type { ValidatorStore } from './store/validator-store';
import type { Validator } from './validator';

export function consensusMetrics(validator: Validator, network: ValidatorNetwork, genesis: LoadedGenesis, store: ValidatorStore): () => ServiceMetricSample[] {
  return () => {
    const s = validator.status();
    const c = validator.counters;
    const out: ServiceMetricSample[] = [
      { name: 'hypermesh_consensus_height', help: 'Height of the last committed block.', type: 'gauge', value: s.committedHeight },
      { name: 'hypermesh_consensus_view', help: 'The view this validator is in.', type: 'gauge', value: s.view },
      { name: 'hypermesh_consensus_leader', help: 'The leader of the current view (1 on its label).', type: 'gauge', labels: { leader: genesis.validators[s.leader]?.instance ?? String(s.leader) }, value: 1 },
      { name: 'hypermesh_validators_connected', help: 'Other validators this one has an open link to.', type: 'gauge', value: network.connectedCount },
      { name: 'hypermesh_validators', help: 'Validators in the genesis set.', type: 'gauge', value: genesis.validators.length },
      { name: 'hypermesh_mempool_operations', help: 'Operations waiting for a block this validator proposes.', type: 'gauge', value: s.mempoolSize },
      { name: 'hypermesh_blocks_committed_total', help: 'Blocks committed since the process started.', type: 'counter', value: c.blocksCommitted },
      { name: 'hypermesh_operations_committed_total', help: 'Operations committed (first commit of an id) since the process started.', type: 'counter', value: c.operationsCommitted },
      { name: 'hypermesh_consensus_messages_total', help: 'Consensus messages received, by outcome.', type: 'counter', labels: { outcome: 'accepted' }, value: c.messagesAccepted },
      { name: 'hypermesh_consensus_messages_total', help: 'Consensus messages received, by outcome.', type: 'counter', labels: { outcome: 'rejected' }, value: c.messagesRejected },
      { name: 'hypermesh_block_log_oldest_height', help: 'Oldest block kept in the block log (older ones pruned, except validation blocks kept for audit).', type: 'gauge', value: store.oldestHeight },
      { name: 'hypermesh_snapshot_height', help: 'Height of the newest state snapshot (0: none yet).', type: 'gauge', value: store.latestSnapshot()?.height ?? 0 },
      { name: 'hypermesh_equivocation_evidence_total', help: 'Equivocation evidence produced.', type: 'counter', value: c.evidence },
      { name: 'hypermesh_commit_latency_observations_total', help: 'Submissions answered with their commit.', type: 'counter', value: validator.commitLatency.count },
    ];
    for (const q of [0.5, 0.99]) {
      const v = validator.commitLatency.quantile(q);
      if (v !== null) out.push({ name: 'hypermesh_commit_latency_seconds', help: 'Submission-to-commit latency over the last 1024 submissions.', type: 'gauge', labels: { quantile: String(q) }, value: v });
    }
    return out;
  };
}

/** Four-proof sets verified in full or answered from the sets this validator verified before. */
export function proofVerifierMetrics(verifier: ProofVerifier): () => ServiceMetricSample[] {
  const help = 'Four-proof set checks since the process started: verified in full (including refusals), or remembered (verified before here; clock and chain rules checked again).';
  return () => [
    { name: 'hypermesh_four_proof_checks_total', help, type: 'counter', labels: { path: 'verified' }, value: verifier.counters.verified },
    { name: 'hypermesh_four_proof_checks_total', help, type: 'counter', labels: { path: 'remembered' }, value: verifier.counters.remembered },
    { name: 'hypermesh_four_proof_sets_remembered', help: 'Sets this validator remembers as verified (bounded).', type: 'gauge', value: verifier.verified.size },
  ];
}
