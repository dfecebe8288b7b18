import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsEmail, IsIn, IsInt, IsOptional, IsString, Length, Max, Min, NotEquals } from 'class-validator';
import { BETA_INVITATION_STATUSES, type BetaInvitationStatus } from './invitations/beta-invitation.schema.js';
import { BETA_SESSION_STATUSES, type BetaSessionStatus } from './sessions/beta-session.schema.js';

export class PreauthorizeDto {
  @ApiProperty({ enum: ['live_dubbing'] })
  @IsIn(['live_dubbing'])
  feature!: 'live_dubbing';

  @ApiPropertyOptional({ description: 'Seconds to estimate; defaults to BETA_PREAUTH_SECONDS' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(86_400)
  estimated_seconds?: number;
}

export class TransactionsQueryDto {
  @ApiPropertyOptional({ default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ description: 'The next_cursor of the previous page' })
  @IsOptional()
  @IsString()
  @Length(1, 300)
  cursor?: string;
}

export class EnrollDto {
  @ApiProperty()
  @IsEmail()
  email!: string;

  @ApiPropertyOptional({ description: 'Credits granted at enrolment (at least 1); defaults to BETA_INITIAL_CREDITS' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  credits?: number;
}

export class EmailParamDto {
  @IsEmail()
  email!: string;
}

export class AdjustCreditsDto {
  @ApiProperty({ description: 'Credits to add (positive) or remove (negative); never below 0' })
  @IsInt()
  @NotEquals(0)
  @Min(-1_000_000)
  @Max(1_000_000)
  amount!: number;

  @ApiProperty()
  @IsString()
  @Length(3, 200)
  reason!: string;

  @ApiPropertyOptional({ description: 'Makes a retried request apply once; reused with another amount or reason: 409' })
  @IsOptional()
  @IsString()
  @Length(8, 100)
  idempotency_key?: string;
}

export class SessionsQueryDto {
  @ApiPropertyOptional({ enum: BETA_SESSION_STATUSES })
  @IsOptional()
  @IsIn(BETA_SESSION_STATUSES)
  status?: BetaSessionStatus;
}

export class CreateInvitationDto {
  @ApiProperty({ example: 'viewer@example.com' })
  @IsEmail()
  email!: string;
}

export class InvitationsQueryDto {
  @ApiPropertyOptional({ enum: BETA_INVITATION_STATUSES })
  @IsOptional()
  @IsIn(BETA_INVITATION_STATUSES)
  status?: BetaInvitationStatus;
}

export class AcceptInvitationDto {
  @ApiProperty({ description: 'The code from the invitation' })
  @IsString()
  @Length(1, 200)
  code!: string;
}
