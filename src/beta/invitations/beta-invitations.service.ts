import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Clock } from '../../common/clock.js';
import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';
import { AppConfig } from '../../config/app-config.js';
import { normalizeEmail } from '../../users/email.js';
import { BetaEnrollmentService, type EnrollmentResult } from '../enrollment/beta-enrollment.service.js';
import type { BetaInvitationStatus } from './beta-invitation.schema.js';
import { BetaInvitationsRepository, type BetaInvitationRecord } from './beta-invitations.repository.js';

const DAY_MS = 86_400_000;
const CODE_BYTES = 16;
// Each refused insert means another create for the email succeeded, so N concurrent creates all finish within N attempts.
const CREATE_ATTEMPTS = 10;
const LIST_LIMIT = 200;

/** A new invitation: the only time its code is ever returned. */
export interface IssuedInvitation {
  id: string;
  email: string;
  code: string;
  expires_at: Date;
}

function hashInvitationCode(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

/** The status as of `now`: a pending invitation is expired from its `expires_at` on. */
function invitationStatusAt(invitation: BetaInvitationRecord, now: Date): BetaInvitationStatus {
  return invitation.status === 'pending' && invitation.expires_at.getTime() <= now.getTime() ? 'expired' : invitation.status;
}

function invalidInvitation(): DomainError {
  return new DomainError(ErrorCode.InvitationInvalid, 'Invalid or expired invitation code');
}

/** Invitations to Beta 500: issued by an admin for one email, accepted once by the signed-in owner of that email. */
@Injectable()
export class BetaInvitationsService {
  constructor(
    private readonly invitations: BetaInvitationsRepository,
    private readonly enrollment: BetaEnrollmentService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** Issues an invitation with a fresh 128-bit code; the email's previous pending invitation stops working. */
  async create(email: string, actor: string): Promise<IssuedInvitation> {
    const invitee = normalizeEmail(email);
    for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
      const now = this.clock.date();
      await this.supersedePending(invitee, now);
      const code = randomBytes(CODE_BYTES).toString('base64url');
      const invitation: BetaInvitationRecord = {
        _id: randomUUID(),
        email: invitee,
        code_hash: hashInvitationCode(code),
        status: 'pending',
        pending_email: invitee,
        created_at: now,
        expires_at: new Date(now.getTime() + this.config.beta.invitationTtlDays * DAY_MS),
        created_by: actor,
      };
      // Refused only when a concurrent create took the email's pending slot after our supersede: supersede that one too.
      if (await this.invitations.insert(invitation)) {
        return { id: invitation._id, email: invitee, code, expires_at: invitation.expires_at };
      }
    }
    throw new DomainError(ErrorCode.Conflict, `Invitations for ${invitee} are being created concurrently; try again`);
  }

  /** Newest first, each with its status as of now. */
  async list(status?: BetaInvitationStatus): Promise<BetaInvitationRecord[]> {
    const now = this.clock.date();
    const invitations = await this.invitations.list(status, now, LIST_LIMIT);
    return invitations.map((invitation) => ({ ...invitation, status: invitationStatusAt(invitation, now) }));
  }

  /**
   * Enrols the caller if `code` belongs to a pending, unexpired invitation for their email. Every refusal carries the
   * same message, so a caller learns nothing about codes that are not theirs.
   */
  async accept(user: { email: string }, code: string): Promise<EnrollmentResult> {
    const email = normalizeEmail(user.email);
    const invitation = await this.invitations.findByCodeHash(hashInvitationCode(code));
    if (invitation === undefined || invitation.email !== email || invitationStatusAt(invitation, this.clock.date()) !== 'pending') {
      throw invalidInvitation();
    }
    // Enrol before using up the code: enrolment is idempotent, so a failure in between leaves a code that still works,
    // never a used code without its enrolment. The conditional mark lets exactly one of concurrent accepts succeed.
    const result = await this.enrollment.enroll({ email, via: 'invitation', actor: invitation.created_by });
    if (!(await this.invitations.markAccepted(invitation._id, this.clock.date()))) {
      throw invalidInvitation();
    }
    return result;
  }

  private async supersedePending(email: string, now: Date): Promise<void> {
    const pending = await this.invitations.findPending(email);
    if (pending !== undefined) {
      await this.invitations.markSuperseded(pending._id, invitationStatusAt(pending, now) === 'expired' ? 'expired' : 'revoked', now);
    }
  }
}
