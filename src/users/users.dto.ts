import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsEmail, IsIn, IsOptional, IsString, Length } from 'class-validator';
import { SUBSCRIPTION_TIERS, type SubscriptionTier } from './user.schema.js';
import type { UserRecord } from './users.repository.js';

export class CreateUserDto {
  @ApiProperty({ example: 'viewer@example.com' })
  @IsEmail()
  email!: string;

  @ApiProperty({ enum: SUBSCRIPTION_TIERS })
  @IsIn(SUBSCRIPTION_TIERS)
  tier!: SubscriptionTier;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  admin?: boolean;

  @ApiPropertyOptional({ example: 'Dana' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  display_name?: string;
}

export class EmailParamDto {
  @IsEmail()
  email!: string;
}

export class UserView {
  @ApiProperty() id!: string;
  @ApiProperty() email!: string;
  @ApiProperty() display_name!: string;
  @ApiProperty({ example: { tier: 'premium', status: 'active' } }) subscription!: { tier: string; status: string };
  @ApiProperty({ type: [String] }) roles!: string[];
  @ApiProperty() is_active!: boolean;

  static of(user: UserRecord): UserView {
    return {
      id: user.id,
      email: user.email,
      display_name: user.displayName,
      subscription: { tier: user.tier, status: user.subscriptionStatus },
      roles: user.roles,
      is_active: user.isActive,
    };
  }
}
