import type { INestApplicationContext } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { BetaEnrollmentService } from '../../src/beta/enrollment/beta-enrollment.service.js';
import type { ChannelRecord } from '../../src/channels/channels.repository.js';
import type { SubscriptionTier } from '../../src/users/user.schema.js';
import type { UserRecord } from '../../src/users/users.repository.js';
import { TEST_JWT_SECRET, type TestApp } from './app.js';
import { createChannel, createUserWithToken } from './factories.js';
import { TestWsClient } from './ws-client.js';

export interface Viewer {
  user: UserRecord;
  token: string;
  channel: ChannelRecord;
}

/** A user with a token and a live dubbing channel; enrolled in Beta 500 with `credits` when given. */
export async function viewer(app: INestApplicationContext, options: { tier?: SubscriptionTier; credits?: number } = {}): Promise<Viewer> {
  const { user, token } = await createUserWithToken(app, { tier: options.tier ?? 'premium' });
  if (options.credits !== undefined) {
    await app.get(BetaEnrollmentService).enroll({ email: user.email, via: 'admin', credits: options.credits });
  }
  return { user, token, channel: await createChannel(app) };
}

/**
 * The usage summary a live session's last message carries (docs/protocol.md, "The usage summary"), where a spec checks
 * the message's shape rather than the amounts.
 */
export function anyUsageSummary(beta = true): Record<string, unknown> {
  return {
    duration_ms: expect.any(Number),
    charged_credits: expect.any(Number),
    remaining_credits: beta ? expect.any(Number) : null,
    quota_used_seconds: expect.any(Number),
  };
}

export function authMessage(v: Viewer, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'auth', token: v.token, channel_id: v.channel.id, target_lang: 'en', ...overrides };
}

/** Connects and authenticates; resolves with the client once `ready` arrived. */
export async function openSession(t: Pick<TestApp, 'baseUrl'>, v: Viewer): Promise<{ client: TestWsClient; ready: any }> {
  const client = await TestWsClient.connect(t.baseUrl);
  client.send(authMessage(v));
  return { client, ready: await client.next('ready') };
}

/** Connects and resumes the session `resumeToken` names; resolves with the client and its first message. */
export async function resumeSession(
  t: Pick<TestApp, 'baseUrl'>,
  v: Viewer,
  resumeToken: string,
): Promise<{ client: TestWsClient; reply: any }> {
  const client = await TestWsClient.connect(t.baseUrl);
  client.send({ type: 'auth', token: v.token, resume_token: resumeToken });
  return { client, reply: await client.next() };
}

/** Sends `first` as the opening message and resolves with the error message and close. */
export async function refusal(
  t: TestApp,
  first: unknown,
  binary = false,
): Promise<{ error: any; closed: { code: number; reason: string } }> {
  const client = await TestWsClient.connect(t.baseUrl);
  if (binary) {
    client.sendAudio(first as Buffer);
  } else {
    client.send(first);
  }
  const closed = await client.waitClose();
  return { error: client.messages.find((message) => message.type === 'error'), closed };
}

export function signedToken(claims: object, options: { expiresIn?: number; secret?: string } = {}): Promise<string> {
  return new JwtService({ secret: options.secret ?? TEST_JWT_SECRET }).signAsync(claims, { expiresIn: options.expiresIn ?? 600 });
}

export async function waitUntil<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Probes until `done(observation)` or the timeout, and returns the last observation either way, for an expectation to show. */
export async function observeUntil<T>(probe: () => Promise<T>, done: (observation: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const observation = await probe();
    if (done(observation) || Date.now() > deadline) {
      return observation;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
