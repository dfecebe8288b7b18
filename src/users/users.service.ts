import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '../common/errors/domain-error.js';
import type { SubscriptionTier } from './user.schema.js';
import { normalizeEmail } from './email.js';
import { UsersRepository, type UserRecord } from './users.repository.js';

@Injectable()
export class UsersService {
  constructor(private readonly users: UsersRepository) {}

  create(input: { email: string; tier: SubscriptionTier; admin?: boolean; displayName?: string }): Promise<UserRecord> {
    const email = normalizeEmail(input.email);
    return this.users.create({
      email,
      displayName: input.displayName ?? email.split('@')[0],
      tier: input.tier,
      roles: input.admin === true ? ['user', 'admin'] : ['user'],
    });
  }

  findById(id: string): Promise<UserRecord | undefined> {
    return this.users.findById(id);
  }

  findByIds(ids: string[]): Promise<Map<string, UserRecord>> {
    return this.users.findByIds(ids);
  }

  findByEmail(email: string): Promise<UserRecord | undefined> {
    return this.users.findByEmail(email);
  }

  async getByEmail(email: string): Promise<UserRecord> {
    const user = await this.users.findByEmail(email);
    if (user === undefined) {
      throw new DomainError(ErrorCode.NotFound, `No user with email ${normalizeEmail(email)}`);
    }
    return user;
  }
}
