import { createSecretKey } from 'node:crypto';
import { Logger, Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { AppConfig } from '../config/app-config.js';
import { UsersModule } from '../users/users.module.js';
import { AdminGuard, HttpAuthGuard } from './http-auth.guard.js';
import { resolveJwtSecret } from './jwt-secret-file.js';
import { TokenService } from './token.service.js';

@Module({
  imports: [
    UsersModule,
    JwtModule.registerAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const { issuer, audience } = config.jwt;
        const claims = { ...(issuer && { issuer }), ...(audience && { audience }) };
        const secret = resolveJwtSecret(config.jwt.secret);
        if (config.jwt.secret.from === 'file') {
          new Logger('Auth').log(
            `No JWT_SECRET set (NODE_ENV=development): tokens are signed with the secret kept in ${config.jwt.secret.path}`,
          );
        }
        return {
          // The same bytes jsonwebtoken would make a key of, once: given a string, every verify first tries it as a
          // public key (createPublicKey throws, and the throw is caught) before it takes it as an HMAC secret.
          secret: createSecretKey(Buffer.from(secret)),
          signOptions: { algorithm: 'HS256', ...claims },
          verifyOptions: { algorithms: ['HS256'], ...claims },
        };
      },
    }),
  ],
  providers: [TokenService, HttpAuthGuard, AdminGuard],
  exports: [TokenService, HttpAuthGuard, AdminGuard, UsersModule],
})
export class AuthModule {}
