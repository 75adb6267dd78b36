/**
 * A local SMSC for tests, on the smpp package's server side: checks binds, records every
 * submit_sm (decoded), answers from a script (accept, ESME_RTHROTTLED, any status, or hold
 * the response), sends delivery receipts and mobile-originated texts, and drops connections.
 * "Accepted" means answered with a message id: what a real SMSC would deliver.
 */
import type { AddressInfo } from 'node:net';
import smpp, { type Pdu, type Session } from 'smpp';

export interface FakeSubmit {
  sourceAddr: string;
  sourceTon: number;
  sourceNpi: number;
  destinationAddr: string;
  destTon: number;
  destNpi: number;
  dataCoding: number;
  registeredDelivery: number;
  /** Decoded text (short_message or message_payload). */
  text: string;
  /** true when the text came in message_payload (a long text the SMSC splits). */
  payload: boolean;
  /** Set once answered with a message id. */
  messageId?: string;
}

export type FakeSmscReply = 'ok' | 'throttle' | 'hold' | { status: number };

export interface FakeSmsc {
  url(systemId?: string, password?: string): string;
  binds: { command: string; systemId: string; password: string }[];
  submits: FakeSubmit[];
  accepted: FakeSubmit[];
  enquireLinks: number;
  /** Most submit_sm this SMSC had received and not answered at one time. */
  maxOutstanding: number;
  /** Answers for the next submits; once drained, 'ok'. */
  reply(...r: FakeSmscReply[]): void;
  /** Forgets answers not used yet. */
  clearReplies(): void;
  /** Answer enquire_link or stay silent (a hung SMSC). */
  answerEnquireLink: boolean;
  /** Number of sessions currently bound. */
  bound(): number;
  /** Destroys every connection: submits held unanswered are lost (never accepted). */
  drop(): void;
  /** Sends a deliver_sm to the (first) bound session; resolves with the deliver_sm_resp command_status. */
  deliver(fields: Record<string, unknown>): Promise<number>;
  /** A receipt in both forms SMSCs use: receipted_message_id + message_state TLVs, and the text. */
  receipt(messageId: string, stat: string, opts?: { err?: string; tlv?: boolean }): Promise<number>;
  close(): Promise<void>;
}

export const FAKE_SMSC_CREDENTIALS = { systemId: 'spms', password: 'secret1' };

/** `tls`: PEM key and certificate, for an smpps:// SMSC. */
export async function startFakeSmsc(
  opts: { tls?: { key: Buffer | string; cert: Buffer | string } } = {},
): Promise<FakeSmsc> {
  const script: FakeSmscReply[] = [];
  const bound = new Set<Session>();
  let nextId = 0x1000;
  let outstanding = 0;
  const state = {
    binds: [] as FakeSmsc['binds'],
    submits: [] as FakeSubmit[],
    accepted: [] as FakeSubmit[],
    enquireLinks: 0,
    maxOutstanding: 0,
    answerEnquireLink: true,
  };
  const server = smpp.createServer(opts.tls ? { ...opts.tls } : {}, (session: Session) => {
    const held = new Set<Pdu>();
    session.on('error', () => {});
    session.on('close', () => {
      bound.delete(session);
      outstanding -= held.size; // a dropped connection answers nothing
      held.clear();
    });
    for (const command of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
      session.on(command, (pdu: Pdu) => {
        state.binds.push({ command, systemId: pdu.system_id, password: pdu.password });
        const ok =
          command === 'bind_transceiver' &&
          pdu.system_id === FAKE_SMSC_CREDENTIALS.systemId &&
          pdu.password === FAKE_SMSC_CREDENTIALS.password;
        session.send(pdu.response(ok ? { system_id: 'fake-smsc' } : { command_status: smpp.errors.ESME_RBINDFAIL }));
        if (ok) bound.add(session);
        else session.close();
      });
    }
    session.on('enquire_link', (pdu: Pdu) => {
      state.enquireLinks++;
      if (state.answerEnquireLink) session.send(pdu.response());
    });
    session.on('unbind', (pdu: Pdu) => {
      session.send(pdu.response());
      session.close();
    });
    session.on('submit_sm', (pdu: Pdu) => {
      const body = pdu.message_payload ?? pdu.short_message;
      const s: FakeSubmit = {
        sourceAddr: pdu.source_addr,
        sourceTon: pdu.source_addr_ton,
        sourceNpi: pdu.source_addr_npi,
        destinationAddr: pdu.destination_addr,
        destTon: pdu.dest_addr_ton,
        destNpi: pdu.dest_addr_npi,
        dataCoding: pdu.data_coding,
        registeredDelivery: pdu.registered_delivery,
        text: typeof body?.message === 'string' ? body.message : String(body ?? ''),
        payload: pdu.message_payload !== undefined,
      };
      state.submits.push(s);
      outstanding++;
      state.maxOutstanding = Math.max(state.maxOutstanding, outstanding);
      const next = script.shift() ?? 'ok';
      if (next === 'hold') {
        held.add(pdu);
        return;
      }
      outstanding--;
      if (next === 'ok') {
        s.messageId = (nextId++).toString(16);
        state.accepted.push(s);
        session.send(pdu.response({ message_id: s.messageId }));
      } else {
        session.send(pdu.response({ command_status: next === 'throttle' ? smpp.errors.ESME_RTHROTTLED : next.status }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const fake: FakeSmsc = {
    get answerEnquireLink() {
      return state.answerEnquireLink;
    },
    set answerEnquireLink(v: boolean) {
      state.answerEnquireLink = v;
    },
    get binds() {
      return state.binds;
    },
    get submits() {
      return state.submits;
    },
    get accepted() {
      return state.accepted;
    },
    get enquireLinks() {
      return state.enquireLinks;
    },
    get maxOutstanding() {
      return state.maxOutstanding;
    },
    url: (id = FAKE_SMSC_CREDENTIALS.systemId, pw = FAKE_SMSC_CREDENTIALS.password) =>
      `${opts.tls ? 'smpps' : 'smpp'}://${encodeURIComponent(id)}:${encodeURIComponent(pw)}@127.0.0.1:${port}`,
    reply: (...r) => script.push(...r),
    clearReplies: () => {
      script.length = 0;
    },
    bound: () => bound.size,
    drop() {
      for (const s of server.sessions) s.destroy();
    },
    deliver(fields) {
      const s = [...bound][0];
      if (!s) return Promise.reject(new Error('no bound session'));
      return new Promise<number>((resolve) => {
        s.send(new smpp.PDU('deliver_sm', fields), (resp: Pdu) => resolve(resp.command_status));
      });
    },
    receipt(messageId, stat, opts = {}) {
      const text = `id:${messageId} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:2612031400 done date:2612031401 stat:${stat} err:${opts.err ?? '000'} text:SPMS ALERT`;
      const states: Record<string, number> = { DELIVRD: 2, EXPIRED: 3, UNDELIV: 5, ACCEPTD: 6, REJECTD: 8, ENROUTE: 1 };
      return fake.deliver({
        source_addr: '94771234567',
        esm_class: 0x04,
        short_message: text,
        ...(opts.tlv ? { receipted_message_id: messageId, message_state: states[stat] ?? 7 } : {}),
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        fake.drop();
        server.close(() => resolve());
      }),
  };
  return fake;
}
