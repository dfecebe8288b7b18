import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { isValidObjectId, type Model } from 'mongoose';
import { DomainError, ErrorCode } from '../common/errors/domain-error.js';
import { isDuplicateKeyError } from '../database/mongo-errors.js';
import { User, type SubscriptionTier, type UserRole } from './user.schema.js';

export interface UserRecord {
  id: string;
  email: string;
  displayName: string;
  tier: SubscriptionTier;
  subscriptionStatus: User['subscription']['status'];
  roles: UserRole[];
  isActive: boolean;
}

export interface NewUser {
  email: string;
  displayName: string;
  tier: SubscriptionTier;
  roles: UserRole[];
}

type StoredUser = User & { _id: { toString(): string } };

@Injectable()
export class UsersRepository implements OnModuleInit {
  constructor(@InjectModel(User.name) private readonly users: Model<User>) {}

  async onModuleInit(): Promise<void> {
    await this.users.init();
  }

  async create(user: NewUser): Promise<UserRecord> {
    try {
      const created = await this.users.create({
        email: user.email,
        display_name: user.displayName,
        subscription: { tier: user.tier, status: 'active' },
        roles: user.roles,
      });
      return toRecord(created.toObject());
    } catch (error) {
      if (isDuplicateKeyError(error)) {
        throw new DomainError(ErrorCode.Conflict, `A user with email ${user.email.toLowerCase()} already exists`);
      }
      throw error;
    }
  }

  async findById(id: string): Promise<UserRecord | undefined> {
    if (!isValidObjectId(id)) {
      return undefined;
    }
    const found = await this.users.findById(id).lean<StoredUser>().exec();
    return found === null ? undefined : toRecord(found);
  }

  /** The users among `ids` that exist, by id, in one query. */
  async findByIds(ids: string[]): Promise<Map<string, UserRecord>> {
    const found = await this.users
      .find({ _id: { $in: ids.filter((id) => isValidObjectId(id)) } })
      .lean<StoredUser[]>()
      .exec();
    return new Map(found.map((user) => [user._id.toString(), toRecord(user)]));
  }

  async findByEmail(email: string): Promise<UserRecord | undefined> {
    const found = await this.users
      .findOne({ email: normalizeEmail(email) })
      .lean<StoredUser>()
      .exec();
    return found === null ? undefined : toRecord(found);
  }
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function toRecord(user: StoredUser): UserRecord {
  return {
    id: user._id.toString(),
    email: user.email,
    displayName: user.display_name,
    tier: user.subscription.tier,
    subscriptionStatus: user.subscription.status,
    roles: user.roles,
    isActive: user.is_active,
  };
}
