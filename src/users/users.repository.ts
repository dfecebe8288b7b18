import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Types, type Model } from 'mongoose';
import { DomainError, ErrorCode } from '../common/errors/domain-error.js';
import { driverCollection } from '../database/driver-collection.js';
import { FindByIdBatcher } from '../database/find-by-id-batcher.js';
import { isDuplicateKeyError } from '../database/mongo-errors.js';
import { normalizeEmail } from './email.js';
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const OBJECT_ID = /^[0-9a-f]{24}$/;

@Injectable()
export class UsersRepository implements OnModuleInit {
  /** Openings and requests at the same time read their users in one query. */
  private readonly byId = new FindByIdBatcher(() => driverCollection(this.users));

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
    const key = storedId(id);
    if (key === undefined) {
      return undefined;
    }
    // Through the driver: every opening and every authenticated request reads its user by key, and a lean read
    // returns the stored document as it is anyway.
    const found = await this.byId.find(key);
    return found === undefined ? undefined : toRecord(found);
  }

  /** The users among `ids` that exist, by id, in one query. */
  async findByIds(ids: string[]): Promise<Map<string, UserRecord>> {
    const keys = ids.map(storedId).filter((key) => key !== undefined);
    const found = await this.users
      .find({ _id: { $in: keys } })
      .lean<User[]>()
      .exec();
    return new Map(found.map((user) => [String(user._id), toRecord(user)]));
  }

  async findByEmail(email: string): Promise<UserRecord | undefined> {
    const found = await this.users
      .findOne({ email: normalizeEmail(email) })
      .lean<User>()
      .exec();
    return found === null ? undefined : toRecord(found);
  }
}

/** The stored key for an id: a UUID as is, an ObjectId's hex (users stored with one) as an ObjectId; else none. */
function storedId(id: string): string | Types.ObjectId | undefined {
  if (UUID.test(id)) {
    return id;
  }
  return OBJECT_ID.test(id) ? new Types.ObjectId(id) : undefined;
}

function toRecord(user: User): UserRecord {
  return {
    id: String(user._id),
    email: user.email,
    displayName: user.display_name,
    tier: user.subscription.tier,
    subscriptionStatus: user.subscription.status,
    roles: user.roles,
    isActive: user.is_active,
  };
}
