import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { DomainError, ErrorCode } from '../common/errors/domain-error.js';
import { UsersService } from '../users/users.service.js';
import type { UserRecord } from '../users/users.repository.js';

export type AuthenticatedUser = UserRecord;

interface TokenClaims {
  sub: string;
  email: string;
  /** Set on every token issued here; a token without it would never expire, so it is refused. */
  exp?: number;
}

/** The one place tokens are issued and verified; the HTTP and WebSocket guards both call `authenticate`. */
@Injectable()
export class TokenService {
  constructor(
    private readonly jwt: JwtService,
    private readonly users: UsersService,
  ) {}

  issue(user: UserRecord, ttlSeconds: number): Promise<string> {
    const claims: TokenClaims = { sub: user.id, email: user.email };
    return this.jwt.signAsync(claims, { expiresIn: ttlSeconds });
  }

  /** Verifies signature, algorithm, a present and unexpired `exp` (and issuer/audience when configured), then loads the user fresh. */
  async authenticate(token: string): Promise<AuthenticatedUser> {
    let claims: TokenClaims;
    try {
      claims = await this.jwt.verifyAsync<TokenClaims>(token);
    } catch (error) {
      throw new DomainError(ErrorCode.Unauthorized, describeJwtFailure(error));
    }
    if (typeof claims.exp !== 'number') {
      throw new DomainError(ErrorCode.Unauthorized, 'Token has no expiry');
    }
    const user = typeof claims.sub === 'string' ? await this.users.findById(claims.sub) : undefined;
    if (user === undefined || !user.isActive) {
      throw new DomainError(ErrorCode.Unauthorized, 'Unknown or inactive user');
    }
    return user;
  }
}

function describeJwtFailure(error: unknown): string {
  const name = error instanceof Error ? error.name : '';
  return name === 'TokenExpiredError' ? 'Token expired' : 'Invalid token';
}
