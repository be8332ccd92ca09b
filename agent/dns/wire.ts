// DNS messages on dns-packet: a query is checked before it is decoded (the header rules of miekg/dns's default accept
// function, so a hostile message costs a bounded decode), and replies are encoded within the client's size (512, or
// its EDNS0 buffer), dropping records from the end and setting TC as miekg's Msg.Truncate does.
import dnsPacket, { type Answer, type OptAnswer, type Packet, type Question } from 'dns-packet';
import { RCODE, type Reply } from './kubernetes-zone.js';

const HEADER_BYTES = 12;
const QR = 0x8000;
const OPCODE_SHIFT = 11;
/** The UDP size without EDNS0 (RFC 1035). */
export const UDP_MIN = 512;
/** The UDP size this server advertises and the most it sends over UDP, whatever a client offers. */
export const UDP_MAX = 4096;
/** A TCP message's length is 16 bits. */
export const TCP_MAX = 65535;
const BADVERS_HIGH_BITS = 1; // extended rcode 16 = BADVERS: 1 in the OPT's upper 8 bits, 0 in the header

export interface Query {
  id: number;
  rd: boolean;
  cd: boolean;
  question: Question;
  /** The question's name lower-cased, no trailing dot ('.' for the root). */
  lname: string;
  edns?: { size: number; dnssecOk: boolean };
}

export type Parsed = { query: Query } | { reply: Buffer | undefined };

// The library exports its record codecs at run time; its type declarations leave them out.
interface Codec<T> {
  encode(v: T, buf?: Buffer, offset?: number): unknown;
  encodingLength(v: T): number;
}
const codecs = dnsPacket as unknown as { question: Codec<Question> & { encode: { bytes: number } }; answer: Codec<Answer> };

const KNOWN_CLASSES = new Set(['IN', 'CS', 'CH', 'HS', 'ANY']);

/** A reply made of the query's header alone (no sections), for queries that could not be read. */
function headerReply(buf: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  const flags = buf.readUInt16BE(2);
  out.writeUInt16BE(buf.readUInt16BE(0), 0);
  // QR, the opcode and RD echoed, RA, the rcode.
  out.writeUInt16BE(QR | (flags & 0x7900) | 0x0080 | rcode, 2);
  return out;
}

/**
 * Reads a query: undefined reply for a message to drop (too short, or a response), FORMERR or NOTIMP for one that breaks
 * the rules (one question; at most one answer and one authority record, two additional; opcode QUERY; a name that
 * decodes to the same bytes), BADVERS for EDNS past version 0.
 */
export function parseQuery(buf: Buffer): Parsed {
  if (buf.length < HEADER_BYTES) return { reply: undefined };
  const flags = buf.readUInt16BE(2);
  if (flags & QR) return { reply: undefined };
  if ((flags >> OPCODE_SHIFT) & 0xf) return { reply: headerReply(buf, RCODE.NOTIMP) };
  if (buf.readUInt16BE(4) !== 1 || buf.readUInt16BE(6) > 1 || buf.readUInt16BE(8) > 1 || buf.readUInt16BE(10) > 2) return { reply: headerReply(buf, RCODE.FORMERR) };
  let p: Packet;
  try {
    p = dnsPacket.decode(buf);
  } catch {
    return { reply: headerReply(buf, RCODE.FORMERR) };
  }
  const question = p.questions?.[0];
  if (!question) return { reply: headerReply(buf, RCODE.FORMERR) };
  if (!KNOWN_CLASSES.has(question.class ?? 'IN')) return { reply: headerReply(buf, RCODE.NOTIMP) };
  if (!plainName(buf)) return { reply: headerReply(buf, RCODE.FORMERR) };
  const opts = (p.additionals ?? []).filter((a): a is OptAnswer => a.type === 'OPT');
  if (opts.length > 1) return { reply: headerReply(buf, RCODE.FORMERR) };
  const query: Query = { id: p.id ?? 0, rd: (flags & dnsPacket.RECURSION_DESIRED) !== 0, cd: (flags & dnsPacket.CHECKING_DISABLED) !== 0, question, lname: question.name.toLowerCase() };
  const opt = opts[0];
  if (opt) {
    query.edns = { size: opt.udpPayloadSize, dnssecOk: (opt.flags & dnsPacket.DNSSEC_OK) !== 0 };
    if (opt.ednsVersion !== 0) return { reply: encodeReply(query, { rcode: BADVERS_HIGH_BITS << 4, authoritative: false, answers: [], authorities: [], additionals: [] }, UDP_MIN) };
  }
  return { query };
}

/**
 * Whether the question's name is written plainly: labels only (no compression pointer) of ASCII bytes other than the
 * dot. Such a name decodes to a string that encodes back to the same bytes; any other (a label holding a dot, bytes
 * that are not ASCII, a pointer) could not be echoed or matched faithfully. A byte scan, cheaper than encoding.
 */
function plainName(buf: Buffer): boolean {
  let i = HEADER_BYTES;
  for (;;) {
    const len = buf[i];
    if (len === undefined || len > 63) return false;
    if (len === 0) return true;
    const end = i + 1 + len;
    if (end > buf.length) return false;
    for (let j = i + 1; j < end; j++) if (buf[j]! >= 0x80 || buf[j] === 0x2e) return false;
    i = end;
  }
}

/** The most a reply to this query may be: TCP's 64 KiB, or over UDP 512 or the client's EDNS0 size (at most 4096). */
export function replyLimit(q: Pick<Query, 'edns'>, transport: 'udp' | 'tcp'): number {
  if (transport === 'tcp') return TCP_MAX;
  return q.edns ? Math.min(UDP_MAX, Math.max(UDP_MIN, q.edns.size)) : UDP_MIN;
}

/** Encodes a reply to the query, truncated (TC) to fit limit bytes. */
export function encodeReply(q: Query, r: Reply, limit: number): Buffer {
  let flags = dnsPacket.RECURSION_AVAILABLE | (r.rcode & 0xf);
  if (r.authoritative) flags |= dnsPacket.AUTHORITATIVE_ANSWER;
  if (q.rd) flags |= dnsPacket.RECURSION_DESIRED;
  if (q.cd) flags |= dnsPacket.CHECKING_DISABLED;
  if (r.truncated) flags |= dnsPacket.TRUNCATED_RESPONSE;
  const opt: OptAnswer[] = q.edns
    ? [{ name: '.', type: 'OPT', udpPayloadSize: UDP_MAX, extendedRcode: r.rcode >> 4, ednsVersion: 0, flags: q.edns.dnssecOk ? dnsPacket.DNSSEC_OK : 0, flag_do: q.edns.dnssecOk, options: [] }]
    : [];
  const packet: Packet = { type: 'response', id: q.id, flags, questions: [q.question], answers: r.answers, authorities: r.authorities, additionals: [...r.additionals, ...opt] };
  const out = dnsPacket.encode(packet);
  return out.length <= limit ? out : dnsPacket.encode(truncate(packet, opt, limit));
}

/**
 * Keeps as many records as fit: answers first, then (only if every answer fit) authority, then additional records;
 * TC is set when any record is left out. The question and the OPT record always stay.
 */
export function truncate(packet: Packet, opt: Answer[], limit: number): Packet {
  let size = HEADER_BYTES + (packet.questions ?? []).reduce((n, q) => n + codecs.question.encodingLength(q), 0) + opt.reduce((n, o) => n + codecs.answer.encodingLength(o), 0);
  const fit = (records: Answer[]): Answer[] => {
    const kept: Answer[] = [];
    for (const rr of records) {
      const n = codecs.answer.encodingLength(rr);
      if (size + n > limit) break;
      size += n;
      kept.push(rr);
    }
    return kept;
  };
  const answers = fit(packet.answers ?? []);
  const allAnswers = answers.length === (packet.answers ?? []).length;
  const authorities = allAnswers ? fit(packet.authorities ?? []) : [];
  const extra = (packet.additionals ?? []).filter((a) => a.type !== 'OPT');
  const additionals = allAnswers && authorities.length === (packet.authorities ?? []).length ? fit(extra) : [];
  return { ...packet, flags: (packet.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers, authorities, additionals: [...additionals, ...opt] };
}

/** Fits a reply from an upstream server into limit bytes for a UDP client (decoded, truncated, encoded again). */
export function truncateMessage(msg: Buffer, limit: number): Buffer {
  if (msg.length <= limit) return msg;
  try {
    const p = dnsPacket.decode(msg);
    const opt = (p.additionals ?? []).filter((a) => a.type === 'OPT');
    return dnsPacket.encode(truncate({ ...p, type: 'response' }, opt, limit));
  } catch {
    // Not decodable: the header alone with TC tells the client to ask again over TCP.
    const out = Buffer.from(msg.subarray(0, HEADER_BYTES));
    out.writeUInt16BE(out.readUInt16BE(2) | dnsPacket.TRUNCATED_RESPONSE, 2);
    out.fill(0, 4);
    return out;
  }
}

/** A reply with only a code (SERVFAIL, REFUSED...) and the question. */
export function rcodeReply(q: Query, rcode: number, limit: number): Buffer {
  return encodeReply(q, { rcode, authoritative: false, answers: [], authorities: [], additionals: [] }, limit);
}
