import { randomUUID } from 'node:crypto';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { driverCollection } from '../database/driver-collection.js';
import { FindByIdBatcher } from '../database/find-by-id-batcher.js';
import { InsertBatcher } from '../database/insert-batcher.js';
import { LiveSessionDocument, type LiveSessionStatus } from './live-session.schema.js';

export interface LiveSessionRecord {
  id: string;
  userId: string;
  email: string;
  feature: string;
  status: LiveSessionStatus;
  ownerInstanceId: string;
  ownerEpoch: number;
  heartbeatAtMs: number;
  startedAtMs: number;
  betaSessionId?: string;
  quotaSessionId: string;
  endCause?: string;
  endAtMs?: number;
  channelId: string;
  sourceLang: string;
  targetLang: string;
  resumeTokenHash: string;
  suspendCause?: string;
  lostAtMs?: number;
  resumeUntilMs?: number;
  /** The last resume, if any: when charging went on, where it had stopped, and the epoch it took. */
  resumed?: { atMs: number; cutAtMs: number; epoch: number };
}

/** One owner's claim on a session: the epoch its writes are conditioned on. */
export interface Ownership {
  id: string;
  epoch: number;
}

@Injectable()
export class LiveSessionsRepository implements OnModuleInit {
  /** Openings at the same time read the records their users' slots name, and write their own, in one command. */
  private readonly byId = new FindByIdBatcher(() => driverCollection(this.sessions));
  private readonly inserts = new InsertBatcher(() => driverCollection(this.sessions));

  constructor(@InjectModel(LiveSessionDocument.name) private readonly sessions: Model<LiveSessionDocument>) {}

  async onModuleInit(): Promise<void> {
    await this.sessions.init();
  }

  async insert(
    session: Omit<LiveSessionRecord, 'status' | 'ownerEpoch' | 'heartbeatAtMs' | 'suspendCause' | 'lostAtMs' | 'resumeUntilMs' | 'resumed'>,
  ): Promise<void> {
    await this.inserts.insert({
      _id: session.id,
      user_id: session.userId,
      email: session.email,
      feature: session.feature,
      status: 'live',
      owner_instance_id: session.ownerInstanceId,
      owner_epoch: 0,
      heartbeat_at: new Date(session.startedAtMs),
      started_at: new Date(session.startedAtMs),
      beta_session_id: session.betaSessionId,
      quota_session_id: session.quotaSessionId,
      channel_id: session.channelId,
      source_lang: session.sourceLang,
      target_lang: session.targetLang,
      resume_token_hash: session.resumeTokenHash,
    });
  }

  async find(id: string): Promise<LiveSessionRecord | undefined> {
    const found = await this.byId.find(id);
    return found === undefined ? undefined : toRecord(found);
  }

  /**
   * One heartbeat for all of an owner's sessions, in one round trip. Returns the sessions this owner no longer
   * holds (another instance moved their epoch): when some writes matched nothing, the batch token tells which.
   */
  async heartbeat(owned: Ownership[], atMs: number): Promise<Set<string>> {
    if (owned.length === 0) {
      return new Set();
    }
    const token = randomUUID();
    const result = await driverCollection(this.sessions).bulkWrite(
      owned.map(({ id, epoch }) => ({
        updateOne: { filter: { _id: id, owner_epoch: epoch }, update: { $set: { heartbeat_at: new Date(atMs), heartbeat_token: token } } },
      })),
      { ordered: false },
    );
    if (result.matchedCount === owned.length) {
      return new Set();
    }
    const landed = await driverCollection(this.sessions)
      .find({ heartbeat_token: token }, { projection: { _id: 1 } })
      .toArray();
    const held = new Set(landed.map((session) => session._id));
    return new Set(owned.filter(({ id }) => !held.has(id)).map(({ id }) => id));
  }

  /**
   * The owner records why and when its session ends, and moves the epoch: a sweep that read the session before
   * then can no longer take it over. False when this owner no longer holds it at `owner.epoch`.
   */
  async markEnding(owner: Ownership, end: { cause: string; atMs: number }): Promise<boolean> {
    const result = await driverCollection(this.sessions).updateOne(
      { _id: owner.id, owner_epoch: owner.epoch },
      { $set: { status: 'ending', end_cause: end.cause, end_at: new Date(end.atMs) }, $inc: { owner_epoch: 1 } },
    );
    return result.matchedCount === 1;
  }

  /**
   * The owner lost the session's connection (or closed it 1012/4503): it stops being charged at `lostAtMs` and waits
   * for a resume until `resumeUntilMs`. Moves the epoch, so the owner holds it no more. False when it did not hold it.
   */
  async markSuspended(
    owner: Ownership,
    suspension: { cause: string; lostAtMs: number; resumeUntilMs: number; tokenHash?: string },
  ): Promise<boolean> {
    const result = await driverCollection(this.sessions).updateOne(
      { _id: owner.id, owner_epoch: owner.epoch },
      {
        $set: {
          status: 'suspended',
          suspend_cause: suspension.cause,
          lost_at: new Date(suspension.lostAtMs),
          resume_until: new Date(suspension.resumeUntilMs),
          ...(suspension.tokenHash === undefined ? {} : { resume_token_hash: suspension.tokenHash }),
        },
        $inc: { owner_epoch: 1 },
      },
    );
    return result.matchedCount === 1;
  }

  async findByResumeToken(tokenHash: string): Promise<LiveSessionRecord | undefined> {
    const found = await this.sessions.findOne({ resume_token_hash: tokenHash }).lean<LiveSessionDocument>().exec();
    return found === null ? undefined : toRecord(found);
  }

  /**
   * A resume takes the session over: a compare-and-set on everything it read (epoch, token, status, and the owner's
   * last heartbeat, up to which a live session is charged), so of two racing resumes one wins, a token works once,
   * and an owner that proved itself since keeps it. Returns the session as resumed, or undefined when it lost.
   */
  async takeOverToResume(
    session: LiveSessionRecord,
    resume: { instanceId: string; atMs: number; cutAtMs: number; tokenHash: string },
  ): Promise<LiveSessionRecord | undefined> {
    const epoch = session.ownerEpoch + 1;
    const result = await driverCollection(this.sessions).updateOne(
      {
        _id: session.id,
        owner_epoch: session.ownerEpoch,
        status: session.status,
        resume_token_hash: session.resumeTokenHash,
        heartbeat_at: new Date(session.heartbeatAtMs),
      },
      {
        $set: {
          status: 'live',
          owner_instance_id: resume.instanceId,
          owner_epoch: epoch,
          heartbeat_at: new Date(resume.atMs),
          resumed_at: new Date(resume.atMs),
          resume_cut_at: new Date(resume.cutAtMs),
          resumed_epoch: epoch,
          resume_token_hash: resume.tokenHash,
        },
        $unset: { suspend_cause: '', lost_at: '', resume_until: '' },
      },
    );
    if (result.matchedCount !== 1) {
      return undefined;
    }
    return {
      ...session,
      status: 'live',
      ownerInstanceId: resume.instanceId,
      ownerEpoch: epoch,
      heartbeatAtMs: resume.atMs,
      resumeTokenHash: resume.tokenHash,
      suspendCause: undefined,
      lostAtMs: undefined,
      resumeUntilMs: undefined,
      resumed: { atMs: resume.atMs, cutAtMs: resume.cutAtMs, epoch },
    };
  }

  /** Suspended sessions whose resume window closed before `nowMs`. */
  async findSuspendedPast(nowMs: number): Promise<LiveSessionRecord[]> {
    const found = await this.sessions
      .find({ status: 'suspended', resume_until: { $lt: new Date(nowMs) } })
      .lean<LiveSessionDocument[]>()
      .exec();
    return found.map(toRecord);
  }

  async markEnded(owner: Ownership, endedAtMs: number): Promise<void> {
    await driverCollection(this.sessions).updateOne(
      { _id: owner.id, owner_epoch: owner.epoch },
      { $set: { status: 'ended', ended_at: new Date(endedAtMs) } },
    );
  }

  /** Sessions not yet ended whose owner has been silent since before `cutoffMs`. */
  async findSilentSince(cutoffMs: number): Promise<LiveSessionRecord[]> {
    const found = await this.sessions
      .find({ status: { $in: ['live', 'ending'] }, heartbeat_at: { $lt: new Date(cutoffMs) } })
      .lean<LiveSessionDocument[]>()
      .exec();
    return found.map(toRecord);
  }

  /**
   * Takes a silent session over to end it: a compare-and-set on the epoch the sweep read, so the old owner's
   * next heartbeat fails, and of two sweeps only one wins. Keeps an end already recorded; otherwise it ends as
   * `cause` at `atMs`. Returns the session as taken over, or undefined when another writer got there first.
   */
  async takeOverToEnd(
    session: LiveSessionRecord,
    instanceId: string,
    end: { cause: string; atMs: number },
  ): Promise<LiveSessionRecord | undefined> {
    const taken = {
      status: 'ending' as const,
      owner_instance_id: instanceId,
      owner_epoch: session.ownerEpoch + 1,
      end_cause: session.endCause ?? end.cause,
      end_at: new Date(session.endAtMs ?? end.atMs),
    };
    // The heartbeat read is part of the condition: an owner that proved itself since (a pause just ended) keeps it.
    const result = await driverCollection(this.sessions).updateOne(
      { _id: session.id, owner_epoch: session.ownerEpoch, heartbeat_at: new Date(session.heartbeatAtMs) },
      { $set: taken },
    );
    if (result.matchedCount !== 1) {
      return undefined;
    }
    return {
      ...session,
      status: 'ending',
      ownerInstanceId: instanceId,
      ownerEpoch: taken.owner_epoch,
      endCause: taken.end_cause,
      endAtMs: taken.end_at.getTime(),
    };
  }
}

function toRecord(session: LiveSessionDocument): LiveSessionRecord {
  return {
    id: session._id,
    userId: session.user_id,
    email: session.email,
    feature: session.feature,
    status: session.status,
    ownerInstanceId: session.owner_instance_id,
    ownerEpoch: session.owner_epoch,
    heartbeatAtMs: session.heartbeat_at.getTime(),
    startedAtMs: session.started_at.getTime(),
    // A session outside Beta 500 was inserted without one, which the driver stores as null.
    betaSessionId: session.beta_session_id ?? undefined,
    quotaSessionId: session.quota_session_id,
    endCause: session.end_cause,
    endAtMs: session.end_at?.getTime(),
    channelId: session.channel_id,
    sourceLang: session.source_lang,
    targetLang: session.target_lang,
    resumeTokenHash: session.resume_token_hash,
    suspendCause: session.suspend_cause,
    lostAtMs: session.lost_at?.getTime(),
    resumeUntilMs: session.resume_until?.getTime(),
    resumed:
      session.resumed_at === undefined || session.resume_cut_at === undefined || session.resumed_epoch === undefined
        ? undefined
        : { atMs: session.resumed_at.getTime(), cutAtMs: session.resume_cut_at.getTime(), epoch: session.resumed_epoch },
  };
}
