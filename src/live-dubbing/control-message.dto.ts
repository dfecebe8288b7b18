import { IsIn } from 'class-validator';
import { ClientMessageType } from './live-dubbing.protocol.js';

/**
 * A live session's control messages — `stop`, `ping`, `flush` (docs/protocol.md, "Client → server") — have no field
 * but their type: validated like `auth`, a field they do not have (a `resume_token` sent in the wrong message, say)
 * is a protocol error, not silently ignored.
 */
export class ControlMessage {
  @IsIn([ClientMessageType.Stop, ClientMessageType.Ping, ClientMessageType.Flush])
  type!: 'stop' | 'ping' | 'flush';
}
