import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { DomainError, ErrorCode } from '../common/errors/domain-error.js';
import { TokenService, type AuthenticatedUser } from './token.service.js';

export type AuthenticatedRequest = Request & { user: AuthenticatedUser };

/** Bearer-token authentication for REST endpoints. */
@Injectable()
export class HttpAuthGuard implements CanActivate {
  constructor(private readonly tokens: TokenService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const [scheme, token] = (request.headers.authorization ?? '').split(' ');
    if (scheme !== 'Bearer' || token === undefined || token === '') {
      throw new DomainError(ErrorCode.Unauthorized, 'Missing bearer token');
    }
    request.user = await this.tokens.authenticate(token);
    return true;
  }
}

/** Admin endpoints: the role is read from the database on this request, never trusted from a claim. */
@Injectable()
export class AdminGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Partial<AuthenticatedRequest>>();
    if (request.user === undefined) {
      throw new DomainError(ErrorCode.Unauthorized, 'Authentication required');
    }
    if (!request.user.roles.includes('admin')) {
      throw new DomainError(ErrorCode.Forbidden, 'Admin role required');
    }
    return true;
  }
}
