import { ApiProperty } from '@nestjs/swagger';
import { BooleanField, EnumField, TextField } from '../common/openapi/fields.js';
import { EmailField } from './email.dto.js';
import { SUBSCRIPTION_STATUSES, SUBSCRIPTION_TIERS, USER_ROLES, type SubscriptionTier } from './user.schema.js';
import type { UserRecord } from './users.repository.js';

export class CreateUserDto {
  @EmailField()
  email!: string;

  @EnumField({ values: SUBSCRIPTION_TIERS })
  tier!: SubscriptionTier;

  @BooleanField({ required: false, description: 'Grant the admin role (default false)' })
  admin?: boolean;

  @TextField({ required: false, minLength: 1, maxLength: 100, example: 'Dana', description: 'Default: the part of the email before @' })
  display_name?: string;
}

export class SubscriptionView {
  @ApiProperty({ enum: SUBSCRIPTION_TIERS, example: 'premium' }) tier!: string;
  @ApiProperty({ enum: SUBSCRIPTION_STATUSES, example: 'active' }) status!: string;
}

export class UserView {
  @ApiProperty({ description: 'A UUID, or an ObjectId for older users', example: '3f0c9a4e-8b8e-4c1e-9a57-5d2f1b7e6a10' }) id!: string;
  @ApiProperty({ example: 'viewer@example.com' }) email!: string;
  @ApiProperty({ example: 'viewer' }) display_name!: string;
  @ApiProperty({ type: SubscriptionView }) subscription!: SubscriptionView;
  @ApiProperty({ enum: USER_ROLES, isArray: true, example: ['user'] }) roles!: string[];
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
