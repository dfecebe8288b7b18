import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import type { WebSocket } from 'ws';
import { TokenService } from '../auth/token.service.js';
import { ChannelsService } from '../channels/channels.service.js';
import { DomainError } from '../common/errors/domain-error.js';
import { AuthMessage } from './auth-message.dto.js';
import { ControlMessage } from './control-message.dto.js';
import { ConnectionRateLimiter } from './connection-rate-limiter.js';
import { ErrorCode, protocolError, serviceUnavailable } from './live-dubbing.protocol.js';
import { DatabaseHealth } from '../database/database-health.js';
import { hasLiveAccess, LiveSessionsService } from './live-sessions.service.js';
import type { LiveSession } from './live-session.js';
import { SessionSlots } from './session-slots.js';
import { OpeningReadsService } from './opening-reads.js';

function sessionOf(context: ExecutionContext, sessions: LiveSessionsService): LiveSession {
  return sessions.get(context.switchToWs().getClient<WebSocket>());
}

/** The message as `type`, its fields checked and none besides them allowed; the protocol error otherwise. */
function validMessage<T extends object>(type: new () => T, context: ExecutionContext): T {
  const { message, problems } = checkMessage(type, context.switchToWs().getData<object>());
  if (problems.length > 0) {
    throw protocolError(`Invalid ${(message as { type?: string }).type} message: ${problems.join('; ')}`);
  }
  return message;
}

/** What is wrong with `data` as a `type` message: none of it when it is well formed. */
export function checkMessage<T extends object>(type: new () => T, data: object): { message: T; problems: string[] } {
  const message = plainToInstance(type, data);
  const errors = validateSync(message, { whitelist: true, forbidNonWhitelisted: true });
  return { message, problems: errors.flatMap((error) => Object.values(error.constraints ?? {})) };
}

/**
 * Step 2: the first message is a well-formed `auth`, sent once. An opening or a resume needs the database: while it
 * is unreachable, they are refused at once with 1013 (try again later), never 4410 for a resume.
 */
@Injectable()
export class AuthMessageGuard implements CanActivate {
  constructor(
    private readonly sessions: LiveSessionsService,
    private readonly health: DatabaseHealth,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const session = sessionOf(context, this.sessions);
    if (session.phase !== 'awaiting_auth') {
      throw protocolError('Already authenticated: auth is sent once, first');
    }
    const message = validMessage(AuthMessage, context);
    if (!this.health.reachable) {
      throw serviceUnavailable();
    }
    this.sessions.beginOpening(session, message);
    return true;
  }
}

/** `stop`, `ping` and `flush` carry nothing but their type (see ControlMessage). */
@Injectable()
export class ControlMessageGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    validMessage(ControlMessage, context);
    return true;
  }
}

/**
 * Step 3: signature, expiry and pinned algorithm; the user exists and is active. Once the user is known, the reads of
 * the later steps start (see OpeningReads).
 */
@Injectable()
export class WsTokenGuard implements CanActivate {
  constructor(
    private readonly sessions: LiveSessionsService,
    private readonly tokens: TokenService,
    private readonly reads: OpeningReadsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const session = sessionOf(context, this.sessions);
    session.user = await this.tokens.authenticate(session.auth!.token);
    this.reads.start(session, session.user);
    return true;
  }
}

/** Step 4: at most WS_CONNECTIONS_PER_MINUTE opens per user per rolling minute, across instances. */
@Injectable()
export class ConnectionRateGuard implements CanActivate {
  constructor(
    private readonly sessions: LiveSessionsService,
    private readonly limiter: ConnectionRateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const session = sessionOf(context, this.sessions);
    if (session.resuming) {
      // A resume is not a new session: it takes no slot.
      return true;
    }
    if (!(await this.limiter.tryOpen(session.user!.id, session.reads?.opens))) {
      throw new DomainError(ErrorCode.RateLimited, 'Too many live dubbing sessions opened in the last minute');
    }
    return true;
  }
}

/** Step 5: live dubbing is a Premium/Family feature with an active subscription. */
@Injectable()
export class SubscriptionTierGuard implements CanActivate {
  constructor(private readonly sessions: LiveSessionsService) {}

  canActivate(context: ExecutionContext): boolean {
    const { user } = sessionOf(context, this.sessions);
    if (!hasLiveAccess(user!)) {
      throw new DomainError(ErrorCode.UpgradeRequired, 'Live dubbing needs an active Premium or Family subscription', {
        upgrade_required: true,
      });
    }
    return true;
  }
}

/** Step 5b: at most LIVE_MAX_SESSIONS_PREMIUM / _FAMILY sessions, live or suspended, per user across instances. */
@Injectable()
export class SessionCapGuard implements CanActivate {
  constructor(
    private readonly sessions: LiveSessionsService,
    private readonly slots: SessionSlots,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const session = sessionOf(context, this.sessions);
    if (session.resuming) {
      // A resume is not a new session: it goes on in the slot its session holds.
      return true;
    }
    await this.slots.take(session.user!, session.id, session.reads?.slots);
    if (session.phase === 'ended') {
      // Ended while the slot was being taken: its end found no slot to free.
      await this.slots.leave(session.user!.id, session.id);
    }
    return true;
  }
}

/** Step 6: the channel exists, is live, supports dubbing and offers the target language. */
@Injectable()
export class ChannelGuard implements CanActivate {
  constructor(
    private readonly sessions: LiveSessionsService,
    private readonly channels: ChannelsService,
  ) {}

  /** The channel as read at most CHANNEL_CACHE_MS ago by this instance (docs/protocol.md, "Opening a session", step 6). */
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const session = sessionOf(context, this.sessions);
    if (session.resuming) {
      // A resumed session goes on with the channel and languages it was opened with.
      return true;
    }
    const { channel_id: channelId, target_lang: targetLang } = session.auth!;
    const channel = await (session.reads?.channel ?? this.channels.findForOpening(channelId));
    const problem =
      channel === undefined
        ? 'Channel not found'
        : !channel.isLive
          ? 'Channel is not live'
          : !channel.supportsDubbing
            ? 'Channel does not support live dubbing'
            : !channel.dubbingLanguages.includes(targetLang)
              ? `Channel does not offer dubbing into "${targetLang}"`
              : undefined;
    if (problem !== undefined) {
      throw new DomainError(ErrorCode.ChannelUnavailable, problem, { channel_id: channelId });
    }
    session.channel = channel;
    return true;
  }
}
