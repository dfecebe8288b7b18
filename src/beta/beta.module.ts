import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { ReconcileMark, ReconcileMarkSchema } from './credits/reconcile-mark.schema.js';
import { ReconcileMarksRepository } from './credits/reconcile-marks.repository.js';
import { BetaAccount, BetaAccountSchema } from './credits/beta-account.schema.js';
import { BetaAccountsRepository } from './credits/beta-accounts.repository.js';
import { BetaCreditTransaction, BetaCreditTransactionSchema } from './credits/beta-credit-transaction.schema.js';
import { BetaCreditsService } from './credits/beta-credits.service.js';
import { CreditLedgerRepository } from './credits/credit-ledger.repository.js';
import { CreditReconcilerService } from './credits/credit-reconciler.service.js';
import { GrantExpiryService } from './credits/grant-expiry.service.js';
import { BetaUser, BetaUserSchema } from './enrollment/beta-user.schema.js';
import { BetaEnrollmentService } from './enrollment/beta-enrollment.service.js';
import { BetaUsersRepository } from './enrollment/beta-users.repository.js';
import { BetaInvitation, BetaInvitationSchema } from './invitations/beta-invitation.schema.js';
import { BetaInvitationsRepository } from './invitations/beta-invitations.repository.js';
import { BetaInvitationsService } from './invitations/beta-invitations.service.js';
import { CreditCheckpointService } from './checkpoint/credit-checkpoint.service.js';
import { BetaSession, BetaSessionSchema } from './sessions/beta-session.schema.js';
import { BetaSessionSignals } from './sessions/beta-session-signals.js';
import { BetaSessionsRepository } from './sessions/beta-sessions.repository.js';
import { BetaSessionsService } from './sessions/beta-sessions.service.js';

/** Beta 500: enrolment, invitations, the credit ledger, metered sessions and their checkpoint (scheduled by BetaSchedulingModule). */
@Module({
  imports: [
    MongooseModule.forFeature([
      { name: BetaAccount.name, schema: BetaAccountSchema },
      { name: BetaCreditTransaction.name, schema: BetaCreditTransactionSchema },
      { name: BetaSession.name, schema: BetaSessionSchema },
      { name: BetaUser.name, schema: BetaUserSchema },
      { name: BetaInvitation.name, schema: BetaInvitationSchema },
      { name: ReconcileMark.name, schema: ReconcileMarkSchema },
    ]),
  ],
  providers: [
    BetaAccountsRepository,
    CreditLedgerRepository,
    ReconcileMarksRepository,
    BetaSessionsRepository,
    BetaUsersRepository,
    BetaInvitationsRepository,
    BetaCreditsService,
    BetaSessionsService,
    BetaEnrollmentService,
    BetaInvitationsService,
    BetaSessionSignals,
    CreditCheckpointService,
    CreditReconcilerService,
    GrantExpiryService,
  ],
  exports: [
    BetaCreditsService,
    BetaSessionsService,
    BetaEnrollmentService,
    BetaInvitationsService,
    BetaSessionSignals,
    CreditCheckpointService,
    CreditReconcilerService,
    GrantExpiryService,
  ],
})
export class BetaModule {}
