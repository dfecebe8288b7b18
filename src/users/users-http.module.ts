import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { AdminUsersController, UsersController } from './users.controller.js';

/** REST over users; kept apart from `UsersModule` because the guards it uses depend on `UsersModule` themselves. */
@Module({
  imports: [AuthModule],
  controllers: [UsersController, AdminUsersController],
})
export class UsersHttpModule {}
