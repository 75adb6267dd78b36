/**
 * The part of the `smpp` package (farhadi/node-smpp, no bundled types) this package uses:
 * sessions (client and server side), PDUs, and the status and constant tables.
 */
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';
  import type { Server as NetServer } from 'node:net';

  /** A decoded PDU: header fields plus the command's parameters and TLVs by name. */
  export interface Pdu {
    command: string;
    command_id: number;
    command_status: number;
    sequence_number: number;
    // biome-ignore lint/suspicious/noExplicitAny: parameters differ per command
    [field: string]: any;
    isResponse(): boolean;
    response(options?: Record<string, unknown>): Pdu;
  }

  /** A PDU to send: its members are Pdu's (the interface below merges into the class). */
  export class PDU {
    constructor(command: string, options?: Record<string, unknown>);
  }
  export interface PDU extends Pdu {}

  export interface Session extends EventEmitter {
    socket: import('node:net').Socket;
    /** false when the socket is not writable (the PDU was not sent). */
    send(pdu: Pdu, onResponse?: (pdu: Pdu) => void, onSent?: (pdu: Pdu) => void): boolean;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    pause(): void;
    resume(): void;
    // biome-ignore lint/suspicious/noExplicitAny: one shortcut per SMPP command
    [command: string]: any;
  }

  export interface ConnectOptions {
    url?: string;
    host?: string;
    port?: number;
    tls?: boolean;
    auto_enquire_link_period?: number;
    rejectUnauthorized?: boolean;
    [option: string]: unknown;
  }

  export function connect(options: ConnectOptions, listener?: () => void): Session;
  export function createServer(
    options: Record<string, unknown>,
    listener?: (session: Session) => void,
  ): NetServer & { sessions: Session[] };

  export const gsmCoder: { encode(text: string, table: number): Buffer; decode(bytes: Buffer, table: number): string };
  export const errors: Record<string, number>;
  export const consts: Record<string, Record<string, number>>;
}
