// Equivocation evidence to `caesar/slash`: stored first (fsync'd, once per offence), then reported
// one at a time until Caesar answers for good — APPLIED, ALREADY_APPLIED, NOTHING_TO_SLASH, or
// INVALID_ARGUMENT (the evidence does not verify there) — with an exponential backoff between
// failures and round-robin over the pending offences, so one that Caesar cannot slash yet (no
// account for that validator) does not hold back the others. A restart resumes from the store.
import type { EquivocationEvidence } from '@stoq/consensus';
import type { Clock, TimerHandle } from '@stoq/core';
import type { Logger } from 'pino';
import { offenceKey, type ReportingTables } from '../store/reporting-tables';
import { classifyError, classifySlash, evidenceMessage, type CaesarReports, type Classified } from './caesar-reports';
import { backoffDelay, type BackoffOptions } from './reward-schedule';

export interface EvidenceReporterOptions {
  reporting: ReportingTables;
  caesar: CaesarReports;
  clock: Clock;
  logger: Logger;
  backoff?: BackoffOptions;
}

export class EvidenceReporter {
  private busy = false;
  private timer: TimerHandle | null = null;
  private closed = false;
  private failures = 0;
  private last: string | null = null;
  private readonly backoff: BackoffOptions;

  constructor(private readonly o: EvidenceReporterOptions) {
    this.backoff = o.backoff ?? { initialMs: 500, maxMs: 60_000 };
  }

  start(): void {
    const c = this.o.reporting.evidenceCounts();
    if (c.pending > 0) this.o.logger.info({ pending: c.pending }, 'equivocation evidence to report to Caesar');
    this.pump();
  }

  /** The detector's evidence: durable before this returns (a write failure throws). */
  record(e: EquivocationEvidence): void {
    const added = this.o.reporting.recordEvidence(e);
    this.o.logger.warn({ offence: offenceKey(e), kind: e.kind, validator: e.validator, view: e.view, stored: added }, 'equivocation evidence stored, to be reported to Caesar');
    if (added && this.timer === null) this.pump();
  }

  close(): void {
    this.closed = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** A failed bookkeeping write costs a repeated report (Caesar answers ALREADY_APPLIED), not the process. */
  private write(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.o.logger.error({ err }, 'could not store the state of an evidence report');
    }
  }

  private pump(): void {
    if (this.closed || this.busy || this.timer !== null) return;
    const next = this.o.reporting.nextPendingEvidence(this.last) ?? this.o.reporting.nextPendingEvidence(null);
    if (!next) return;
    this.busy = true;
    void this.report(next.offence, next.evidence, next.attempts + 1);
  }

  private async report(offence: string, evidence: EquivocationEvidence, attempts: number): Promise<void> {
    let c: Classified;
    try {
      c = classifySlash(await this.o.caesar.slash(evidenceMessage(evidence)));
    } catch (err) {
      c = classifyError(err);
    }
    this.busy = false;
    if (this.closed) return;
    this.last = offence;
    const log = this.o.logger;
    if (c.answer === 'retry') {
      this.write(() => this.o.reporting.noteAttempt(offence, attempts));
      this.failures++;
      const delay = backoffDelay(this.failures, this.backoff);
      (this.failures === 1 ? log.warn.bind(log) : log.debug.bind(log))({ offence, attempts, outcome: c.outcome, detail: c.detail, retryInMs: delay }, 'caesar slash failed: retrying');
      this.timer = this.o.clock.setTimeout(() => {
        this.timer = null;
        this.pump();
      }, delay);
      return;
    }
    this.failures = 0;
    const outcome = c.answer === 'refused' ? `REFUSED ${c.outcome}: ${c.detail}` : c.outcome;
    this.write(() => this.o.reporting.finishEvidence(offence, attempts, outcome));
    (c.answer === 'refused' ? log.error.bind(log) : log.warn.bind(log))({ offence, attempts, outcome: c.outcome, detail: c.detail }, 'equivocation evidence reported to Caesar');
    this.pump();
  }
}
