import { Body, Controller, Get, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { AdminGuard, HttpAuthGuard } from '../auth/http-auth.guard.js';
import type { AuthenticatedUser } from '../auth/token.service.js';
import { EmailParamDto } from './email.dto.js';
import { CreateUserDto, UserView } from './users.dto.js';
import { UsersService } from './users.service.js';

@ApiTags('users')
@ApiBearerAuth()
@UseGuards(HttpAuthGuard)
@Controller('users')
export class UsersController {
  @Get('me')
  me(@CurrentUser() user: AuthenticatedUser): UserView {
    return UserView.of(user);
  }
}

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(HttpAuthGuard, AdminGuard)
@Controller('admin/users')
export class AdminUsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  async create(@Body() body: CreateUserDto): Promise<UserView> {
    const user = await this.users.create({ email: body.email, tier: body.tier, admin: body.admin, displayName: body.display_name });
    return UserView.of(user);
  }

  @Get(':email')
  async get(@Param() params: EmailParamDto): Promise<UserView> {
    return UserView.of(await this.users.getByEmail(params.email));
  }
}
