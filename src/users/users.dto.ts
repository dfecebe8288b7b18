import { ApiProperty } from '@nestjs/swagger';
import { BooleanField, EnumField, TextField } from '../common/openapi/fields.js';
import { EmailField } from './email.dto.js';
import { SUBSCRIPTION_TIERS, type SubscriptionTier } from './user.schema.js';
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
