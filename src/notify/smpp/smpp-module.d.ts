// The `smpp` package (0.5.x) ships no types: the part of its API this project uses.
declare module 'smpp' {
  import type { EventEmitter } from 'node:events'
  import type { Server as NetServer } from 'node:net'

  export interface Pdu {
    command: string
    command_status: number
    sequence_number: number
    [field: string]: unknown
    isResponse(): boolean
    response(options?: Record<string, unknown>): Pdu
  }

  export class PDU implements Pdu {
    constructor(command: string, options?: Record<string, unknown>)
    command: string
    command_status: number
    sequence_number: number;
    [field: string]: unknown
    isResponse(): boolean
    response(options?: Record<string, unknown>): Pdu
  }

  export interface Session extends EventEmitter {
    send(pdu: Pdu, responseCallback?: (resp: Pdu) => void): boolean
    close(callback?: () => void): void
    destroy(callback?: () => void): void
    pause(): void
    resume(): void
    bind_transceiver(options: Record<string, unknown>, cb?: (resp: Pdu) => void): boolean
    submit_sm(options: Record<string, unknown>, cb?: (resp: Pdu) => void): boolean
    deliver_sm(options: Record<string, unknown>, cb?: (resp: Pdu) => void): boolean
    unbind(options?: Record<string, unknown>, cb?: (resp: Pdu) => void): boolean
    enquire_link(options?: Record<string, unknown>, cb?: (resp: Pdu) => void): boolean
    socket: import('node:net').Socket
  }

  export interface Server extends NetServer {
    sessions: Session[]
  }

  export function connect(options: Record<string, unknown>, listener?: () => void): Session
  export function createServer(listener?: (session: Session) => void): Server
  export function createServer(
    options: Record<string, unknown>,
    listener?: (session: Session) => void,
  ): Server

  export const ESME_ROK: number
  export const ESME_RINVDSTADR: number
  export const ESME_RBINDFAIL: number
  export const ESME_RTHROTTLED: number
  export const ESME_RMSGQFUL: number
  export const ESME_RSYSERR: number
  const smpp: {
    connect: typeof connect
    createServer: typeof createServer
    PDU: typeof PDU
    [name: string]: unknown
  }
  export default smpp
}
