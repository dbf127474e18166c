// DNS messages in, DNS messages out, sans I/O: a query's bytes become a response's bytes (RFC
// 1035 wire format through dns-packet) from a Zone's answer, with EDNS0 (RFC 6891), the UDP size
// limit and truncation (TC), and FORMERR/NOTIMP/REFUSED for what the zone does not serve. Time
// comes in as `now` (lease expiry). `respond` never throws: a packet it cannot read at all is
// dropped (bytes null), one whose header it can read gets FORMERR, and each is flagged `malformed`
// for the server's counters.
//
// Encoded answers are cached per (question name as sent, lowercased; type; EDNS/DO) until the zone
// changes. dns-packet writes no compression pointers, so a cached response stays valid for any
// query with that question: only the ID, the RD/CD bits and the question's bytes (echoed as the
// client sent them, case included) are written into a copy. In front of that, whole replies are
// kept per query bytes (all but the ID) and transport: the same bytes decode to the same
// question, so a repeated query (what resolvers and load balancers send) skips decoding too.
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Packet, Question } from 'dns-packet';
import type { Zone, ZoneAnswer, ZoneRecord } from './zone';

export type DnsTransport = 'udp' | 'tcp';
export type DnsRcode = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED' | 'BADVERS';

export interface DnsReply {
  /** The response message (no TCP length prefix), or null when the packet is dropped unanswered. */
  readonly bytes: Buffer | null;
  /** The response's rcode (BADVERS is the EDNS extended rcode 16); null when dropped. */
  readonly rcode: DnsRcode | null;
  /** The packet was not a well-formed query (answered FORMERR, or dropped). */
  readonly malformed: boolean;
  /** The response has TC set: the answer did not fit and the client should ask again over TCP. */
  readonly truncated: boolean;
  /** Why a packet was malformed or dropped (for logs). */
  readonly reason?: string;
}

export interface ResponderOptions {
  /** The UDP payload size advertised in our OPT and the most we send over UDP with EDNS. Default 1232 (DNS flag day 2020). */
  readonly maxUdpPayload?: number;
  /**
   * Queries longer than this get FORMERR without being decoded. Default 512: a query is a few
   * dozen bytes (100 or so with an EDNS cookie), and the bound keeps the work a crafted packet
   * (chains of compression pointers) can cause small.
   */
  readonly maxQueryBytes?: number;
  /** Encoded answers kept (oldest dropped first). Default 4096; 0 disables the cache. */
  readonly cacheEntries?: number;
}

export const DNS_HEADER_BYTES = 12;
/** The classic UDP limit (RFC 1035 §4.2.1), also the floor of an EDNS payload size (RFC 6891 §6.2.5). */
export const CLASSIC_UDP_PAYLOAD = 512;
export const MAX_TCP_MESSAGE = 65535;

const QR = 0x8000;
const RD = 0x0100;
const CD = 0x0010;
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

interface CachedAnswer {
  readonly rcode: DnsRcode;
  /** Everything: answers, authorities, additionals (+ OPT). */
  readonly full: Buffer;
  /** Without the zone's additional records (AAAA glue): sent without TC when only those do not fit (RFC 2181 §9). */
  readonly minimal: Buffer;
  /** Header, question (+ OPT) and TC: no records at all. */
  readonly truncated: Buffer;
  /** Bytes of the question section (name + type + class). */
  readonly questionBytes: number;
}

type EdnsMode = 0 | 1 | 2; // none, EDNS, EDNS with DO

export class DnsResponder {
  private readonly maxUdpPayload: number;
  private readonly maxQueryBytes: number;
  private readonly cacheEntries: number;
  private readonly cache = new Map<string, CachedAnswer>();
  /** Replies by transport + query bytes after the ID; same lifetime and bound as `cache`. */
  private readonly replies = new Map<string, { readonly bytes: Buffer; readonly rcode: DnsRcode; readonly truncated: boolean }>();
  private cacheVersion = -1;

  constructor(
    private readonly zone: Zone,
    options: ResponderOptions = {},
  ) {
    this.maxUdpPayload = options.maxUdpPayload ?? 1232;
    this.maxQueryBytes = options.maxQueryBytes ?? 512;
    this.cacheEntries = options.cacheEntries ?? 4096;
    if (!Number.isInteger(this.maxUdpPayload) || this.maxUdpPayload < CLASSIC_UDP_PAYLOAD || this.maxUdpPayload > MAX_TCP_MESSAGE) {
      throw new TypeError(`maxUdpPayload ${this.maxUdpPayload} is not an integer in ${CLASSIC_UDP_PAYLOAD}..${MAX_TCP_MESSAGE}`);
    }
    if (!Number.isInteger(this.maxQueryBytes) || this.maxQueryBytes < DNS_HEADER_BYTES || this.maxQueryBytes > MAX_TCP_MESSAGE) {
      throw new TypeError(`maxQueryBytes ${this.maxQueryBytes} is not an integer in ${DNS_HEADER_BYTES}..${MAX_TCP_MESSAGE}`);
    }
    if (!Number.isInteger(this.cacheEntries) || this.cacheEntries < 0) throw new TypeError(`cacheEntries ${this.cacheEntries} is not a non-negative integer`);
  }

  /** The response to `query` received over `transport` at `now`. Never throws. */
  respond(query: Uint8Array, transport: DnsTransport, now: number): DnsReply {
    const buf = Buffer.isBuffer(query) ? query : Buffer.from(query.buffer, query.byteOffset, query.byteLength);
    if (buf.length < DNS_HEADER_BYTES) return dropped(`${buf.length} bytes: shorter than a DNS header`);
    const id = buf.readUInt16BE(0);
    const flags = buf.readUInt16BE(2);
    if ((flags & QR) !== 0) return dropped('a response, not a query (QR set)');
    try {
      if (this.cacheEntries === 0 || buf.length > this.maxQueryBytes) return this.answer(buf, id, flags, transport, now);
      this.syncCache(now);
      const key = `${transport}${buf.toString('latin1', 2)}`;
      const hit = this.replies.get(key);
      if (hit !== undefined) {
        const out = Buffer.allocUnsafe(hit.bytes.length);
        hit.bytes.copy(out);
        out.writeUInt16BE(id, 0);
        return { bytes: out, rcode: hit.rcode, malformed: false, truncated: hit.truncated };
      }
      const reply = this.answer(buf, id, flags, transport, now);
      if (reply.bytes !== null && reply.rcode !== null && !reply.malformed && reply.reason === undefined) {
        if (this.replies.size >= this.cacheEntries) this.replies.delete(this.replies.keys().next().value!);
        this.replies.set(key, { bytes: Buffer.from(reply.bytes), rcode: reply.rcode, truncated: reply.truncated });
      }
      return reply;
    } catch (err) {
      // Not reached by any input we know of; if a bug gets here, the client still hears back.
      return { bytes: headerOnly(id, flags, RCODE.SERVFAIL), rcode: 'SERVFAIL', malformed: false, truncated: false, reason: `internal error: ${(err as Error).message}` };
    }
  }

  private answer(buf: Buffer, id: number, flags: number, transport: DnsTransport, now: number): DnsReply {
    if (buf.length > this.maxQueryBytes) return formerr(id, flags, `${buf.length} bytes: larger than the ${this.maxQueryBytes}-byte query limit`);
    let packet: DecodedPacket;
    try {
      packet = dnsPacket.decode(buf);
    } catch (err) {
      return formerr(id, flags, `undecodable: ${(err as Error).message}`);
    }
    if (dnsPacket.decode.bytes !== buf.length) return formerr(id, flags, `${buf.length - dnsPacket.decode.bytes} bytes after the message`);
    const questions = packet.questions ?? [];
    const opcode = (flags >> 11) & 0xf;
    if (opcode !== 0) {
      return { bytes: headerOnly(id, flags, RCODE.NOTIMP), rcode: 'NOTIMP', malformed: false, truncated: false, reason: `opcode ${opcode}` };
    }
    if (questions.length !== 1) return formerr(id, flags, `${questions.length} questions; a query has exactly one`);

    // EDNS0: at most one OPT, in the additional section, owned by the root (RFC 6891 §6.1.1).
    let opt: OptAnswer | undefined;
    for (const a of packet.additionals ?? []) {
      if (a.type !== 'OPT') continue;
      if (opt !== undefined) return formerr(id, flags, 'more than one OPT record');
      opt = a;
    }
    if ([...(packet.answers ?? []), ...(packet.authorities ?? [])].some((a) => a.type === 'OPT')) return formerr(id, flags, 'OPT outside the additional section');
    if (opt !== undefined && opt.name !== '.') return formerr(id, flags, 'OPT not owned by the root');
    const ednsMode: EdnsMode = opt === undefined ? 0 : (opt.flags & dnsPacket.DNSSEC_OK) !== 0 ? 2 : 1;
    const question = questions[0]!;
    if (opt !== undefined && opt.ednsVersion !== 0) {
      // RFC 6891 §6.1.3: BADVERS (16) = upper 8 bits 1 in OPT, lower 4 bits 0 in the header.
      const bytes = this.encode(id, flags, 0, [question], [], [], [], ednsMode, 1, false);
      return { bytes, rcode: 'BADVERS', malformed: false, truncated: false, reason: `EDNS version ${opt.ednsVersion}` };
    }

    const limit = transport === 'tcp' ? MAX_TCP_MESSAGE : opt === undefined ? CLASSIC_UDP_PAYLOAD : Math.min(Math.max(opt.udpPayloadSize, CLASSIC_UDP_PAYLOAD), this.maxUdpPayload);
    // The question's wire length if its name is plain (uncompressed, as dns-packet would write it).
    const nameBytes = question.name === '.' ? 1 : Buffer.byteLength(question.name) + 2;
    const questionBytes = nameBytes + 4;
    if (DNS_HEADER_BYTES + questionBytes > buf.length) return formerr(id, flags, 'compressed question name');

    this.syncCache(now);
    const key = `${question.type}|${question.class ?? ''}|${ednsMode}|${asciiLowerLatin1(buf, DNS_HEADER_BYTES, DNS_HEADER_BYTES + nameBytes)}`;
    let cached = this.cache.get(key);
    if (cached === undefined) {
      const built = this.build(buf, question, nameBytes, ednsMode, now);
      if ('reason' in built) return formerr(id, flags, built.reason);
      cached = built;
      if (this.cacheEntries > 0) {
        if (this.cache.size >= this.cacheEntries) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(key, cached);
      }
    }
    const chosen = cached.full.length <= limit ? cached.full : cached.minimal.length <= limit ? cached.minimal : cached.truncated;
    const out = Buffer.allocUnsafe(chosen.length);
    chosen.copy(out);
    out.writeUInt16BE(id, 0);
    out.writeUInt16BE(chosen.readUInt16BE(2) | (flags & (RD | CD)), 2);
    buf.copy(out, DNS_HEADER_BYTES, DNS_HEADER_BYTES, DNS_HEADER_BYTES + cached.questionBytes);
    const truncated = chosen === cached.truncated;
    return { bytes: out, rcode: cached.rcode, malformed: false, truncated };
  }

  /** Drops lapsed leases and, when that or a registration changed the zone, every cached answer. */
  private syncCache(now: number): void {
    this.zone.expire(now);
    if (this.cacheVersion !== this.zone.version) {
      this.cache.clear();
      this.replies.clear();
      this.cacheVersion = this.zone.version;
    }
  }

  /** The three encodings of the answer to `question`, or why the question is not one we read. */
  private build(buf: Buffer, question: Question, nameBytes: number, ednsMode: EdnsMode, now: number): CachedAnswer | { reason: string } {
    // The name dns-packet decoded must be the one on the wire: a label holding a '.', bytes that
    // are not UTF-8 or a compression pointer would make them differ.
    const plain = dnsPacket.encode({ type: 'query', id: 0, questions: [{ name: question.name, type: 'A', class: 'IN' }] });
    if (!asciiCaseEqual(plain, DNS_HEADER_BYTES, buf, DNS_HEADER_BYTES, nameBytes)) {
      return { reason: 'question name is not plain (compression pointer, "." inside a label, or bytes that are not UTF-8)' };
    }
    const questionBytes = nameBytes + 4;
    let zoneAnswer: ZoneAnswer;
    if (question.type === 'OPT') return { reason: 'OPT is no question type' };
    if (question.class !== 'IN' && question.class !== 'ANY') {
      zoneAnswer = { rcode: 'REFUSED', authoritative: false, answers: [], authorities: [], additionals: [] };
    } else if (question.type === 'AXFR' || question.type === 'IXFR') {
      zoneAnswer = { rcode: 'REFUSED', authoritative: false, answers: [], authorities: [], additionals: [] };
    } else {
      zoneAnswer = this.zone.lookup(question.name, question.type, now);
    }
    const rcode = RCODE[zoneAnswer.rcode];
    const aa = zoneAnswer.authoritative;
    const q: Question = { name: question.name, type: question.type, class: 'IN' };
    const answers = zoneAnswer.answers.map(toAnswer);
    const authorities = zoneAnswer.authorities.map(toAnswer);
    const additionals = zoneAnswer.additionals.map(toAnswer);
    const full = this.encode(0, 0, rcode, [q], answers, authorities, additionals, ednsMode, 0, false, aa);
    const minimal = additionals.length === 0 ? full : this.encode(0, 0, rcode, [q], answers, authorities, [], ednsMode, 0, false, aa);
    const truncated = this.encode(0, 0, rcode, [q], [], [], [], ednsMode, 0, true, aa);
    // The question bytes are echoed from each query; check the lengths line up.
    if (full.length < DNS_HEADER_BYTES + questionBytes) return { reason: 'question does not re-encode' };
    return { rcode: zoneAnswer.rcode, full, minimal, truncated, questionBytes };
  }

  private encode(
    id: number,
    queryFlags: number,
    rcode: number,
    questions: Question[],
    answers: Answer[],
    authorities: Answer[],
    additionals: Answer[],
    ednsMode: EdnsMode,
    extendedRcode: number,
    tc: boolean,
    aa = false,
  ): Buffer {
    const flags = (queryFlags & (RD | CD)) | (aa ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | (tc ? dnsPacket.TRUNCATED_RESPONSE : 0) | rcode;
    const extra: Answer[] = [...additionals];
    if (ednsMode !== 0) {
      extra.push({
        type: 'OPT',
        name: '.',
        udpPayloadSize: this.maxUdpPayload,
        extendedRcode,
        ednsVersion: 0,
        // RFC 3225 §3: the DO bit of the query is copied into the response.
        flags: ednsMode === 2 ? dnsPacket.DNSSEC_OK : 0,
        flag_do: ednsMode === 2,
        options: [],
      });
    }
    const packet: Packet = { type: 'response', id, flags, questions, answers, authorities, additionals: extra };
    return dnsPacket.encode(packet);
  }
}

function dropped(reason: string): DnsReply {
  return { bytes: null, rcode: null, malformed: true, truncated: false, reason };
}

function formerr(id: number, flags: number, reason: string): DnsReply {
  return { bytes: headerOnly(id, flags, RCODE.FORMERR), rcode: 'FORMERR', malformed: true, truncated: false, reason };
}

/** A response with no sections: ID, opcode and RD copied from the query. */
function headerOnly(id: number, queryFlags: number, rcode: number): Buffer {
  return dnsPacket.encode({ type: 'response', id, flags: (queryFlags & (0x7800 | RD)) | rcode, questions: [] });
}

function toAnswer(r: ZoneRecord): Answer {
  switch (r.type) {
    case 'SRV':
      return { type: 'SRV', name: r.name, ttl: r.ttl, class: 'IN', data: { priority: r.priority, weight: r.weight, port: r.port, target: r.target } };
    case 'AAAA':
      return { type: 'AAAA', name: r.name, ttl: r.ttl, class: 'IN', data: r.address };
    case 'TXT':
      return { type: 'TXT', name: r.name, ttl: r.ttl, class: 'IN', data: [...r.text] };
    case 'NS':
      return { type: 'NS', name: r.name, ttl: r.ttl, class: 'IN', data: r.host };
    case 'PTR':
      return { type: 'PTR', name: r.name, ttl: r.ttl, class: 'IN', data: r.target };
    case 'SOA':
      return {
        type: 'SOA',
        name: r.name,
        ttl: r.ttl,
        class: 'IN',
        data: { mname: r.mname, rname: r.rname, serial: r.serial, refresh: r.refresh, retry: r.retry, expire: r.expire, minimum: r.minimum },
      };
  }
}

/** Bytes [start, end) of `buf` as latin1 text with ASCII letters lowercased (other bytes kept as they are). */
function asciiLowerLatin1(buf: Buffer, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    s += String.fromCharCode(b >= 0x41 && b <= 0x5a ? b | 0x20 : b);
  }
  return s;
}

function asciiCaseEqual(a: Buffer, aStart: number, b: Buffer, bStart: number, length: number): boolean {
  if (aStart + length > a.length || bStart + length > b.length) return false;
  for (let i = 0; i < length; i++) {
    let x = a[aStart + i]!;
    let y = b[bStart + i]!;
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}
