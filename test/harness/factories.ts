import { randomBytes } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import { TokenService } from '../../src/auth/token.service.js';
import { ChannelsService } from '../../src/channels/channels.service.js';
import type { ChannelRecord } from '../../src/channels/channels.repository.js';
import type { SubscriptionTier } from '../../src/users/user.schema.js';
import type { UserRecord } from '../../src/users/users.repository.js';
import { UsersService } from '../../src/users/users.service.js';

export function uniqueEmail(prefix = 'user'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}@example.com`;
}

export async function createUser(
  app: INestApplicationContext,
  overrides: { email?: string; tier?: SubscriptionTier; admin?: boolean } = {},
): Promise<UserRecord> {
  return app
    .get(UsersService)
    .create({ email: overrides.email ?? uniqueEmail(), tier: overrides.tier ?? 'premium', admin: overrides.admin });
}

export async function createUserWithToken(
  app: INestApplicationContext,
  overrides: { email?: string; tier?: SubscriptionTier; admin?: boolean } = {},
): Promise<{ user: UserRecord; token: string }> {
  const user = await createUser(app, overrides);
  return { user, token: await app.get(TokenService).issue(user, 3600) };
}

export async function createChannel(app: INestApplicationContext, overrides: Partial<ChannelRecord> = {}): Promise<ChannelRecord> {
  const channel: ChannelRecord = {
    id: `channel-${randomBytes(4).toString('hex')}`,
    name: 'Test Channel',
    isLive: true,
    supportsDubbing: true,
    sourceLanguage: 'he',
    dubbingLanguages: ['en', 'es'],
    ...overrides,
  };
  await app.get(ChannelsService).save(channel);
  return channel;
}
