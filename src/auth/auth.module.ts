import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { AppConfig } from '../config/app-config.js';
import { UsersModule } from '../users/users.module.js';
import { AdminGuard, HttpAuthGuard } from './http-auth.guard.js';
import { TokenService } from './token.service.js';

@Module({
  imports: [
    UsersModule,
    JwtModule.registerAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const { issuer, audience } = config.jwt;
        const claims = { ...(issuer && { issuer }), ...(audience && { audience }) };
        return {
          secret: config.jwt.secret,
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
