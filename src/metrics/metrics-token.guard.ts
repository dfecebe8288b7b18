import { createHash, timingSafeEqual } from 'node:crypto';
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { DomainError, ErrorCode } from '../common/errors/domain-error.js';
import { AppConfig } from '../config/app-config.js';

/** `/metrics` is open unless `METRICS_TOKEN` is set; then it needs `Authorization: Bearer <token>`. */
@Injectable()
export class MetricsTokenGuard implements CanActivate {
  private readonly expected?: Buffer;

  constructor(config: AppConfig) {
    this.expected = config.metrics.token === undefined ? undefined : digest(config.metrics.token);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.expected === undefined) {
      return true;
    }
    const presented = /^Bearer (\S+)$/i.exec(context.switchToHttp().getRequest<Request>().headers.authorization ?? '')?.[1];
    // Digests have one length, so the comparison takes the same time whatever was presented.
    if (presented === undefined || !timingSafeEqual(digest(presented), this.expected)) {
      throw new DomainError(ErrorCode.Unauthorized, 'A valid metrics token is required');
    }
    return true;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
