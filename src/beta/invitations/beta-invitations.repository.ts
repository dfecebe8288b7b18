import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { QueryFilter, Model } from 'mongoose';
import { isDuplicateKeyError } from '../../database/mongo-errors.js';
import { BetaInvitation, type BetaInvitationStatus } from './beta-invitation.schema.js';

export type BetaInvitationRecord = BetaInvitation;

@Injectable()
export class BetaInvitationsRepository implements OnModuleInit {
  constructor(@InjectModel(BetaInvitation.name) private readonly invitations: Model<BetaInvitation>) {}

  async onModuleInit(): Promise<void> {
    await this.invitations.init();
  }

  /** Inserts the invitation; false when a unique key is taken (another pending invitation for the email). */
  async insert(invitation: BetaInvitationRecord): Promise<boolean> {
    try {
      await this.invitations.create(invitation);
      return true;
    } catch (error) {
      if (isDuplicateKeyError(error)) {
        return false;
      }
      throw error;
    }
  }

  async findByCodeHash(codeHash: string): Promise<BetaInvitationRecord | undefined> {
    return (await this.invitations.findOne({ code_hash: codeHash }).lean<BetaInvitationRecord>().exec()) ?? undefined;
  }

  async findPending(email: string): Promise<BetaInvitationRecord | undefined> {
    return (await this.invitations.findOne({ pending_email: email }).lean<BetaInvitationRecord>().exec()) ?? undefined;
  }

  /** Marks a pending invitation accepted; false when it no longer is pending (the first accept wins). */
  async markAccepted(id: string, at: Date): Promise<boolean> {
    return this.closePending(id, { status: 'accepted', accepted_at: at });
  }

  /** Closes a pending invitation that a newer one replaces; false when it no longer is pending. */
  async markSuperseded(id: string, status: 'revoked' | 'expired', at: Date): Promise<boolean> {
    return this.closePending(id, status === 'revoked' ? { status, revoked_at: at } : { status });
  }

  /** Newest first, by the status as read at `now`: a stored `pending` past its expiry counts as `expired`. */
  async list(status: BetaInvitationStatus | undefined, now: Date, limit: number): Promise<BetaInvitationRecord[]> {
    const filters: Record<BetaInvitationStatus, QueryFilter<BetaInvitation>> = {
      pending: { status: 'pending', expires_at: { $gt: now } },
      expired: { $or: [{ status: 'expired' }, { status: 'pending', expires_at: { $lte: now } }] },
      accepted: { status: 'accepted' },
      revoked: { status: 'revoked' },
    };
    return this.invitations
      .find(status === undefined ? {} : filters[status])
      .sort({ created_at: -1 })
      .limit(limit)
      .lean<BetaInvitationRecord[]>()
      .exec();
  }

  private async closePending(id: string, update: Partial<BetaInvitation>): Promise<boolean> {
    const result = await this.invitations.updateOne({ _id: id, status: 'pending' }, { $set: update, $unset: { pending_email: 1 } }).exec();
    return result.modifiedCount === 1;
  }
}
