import { Body, Controller, Get, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { AdminGuard, HttpAuthGuard } from '../auth/http-auth.guard.js';
import { ADMIN_ERRORS, USER_ERRORS } from '../auth/http-auth.openapi.js';
import type { AuthenticatedUser } from '../auth/token.service.js';
import { ErrorCode } from '../common/errors/domain-error.js';
import { ApiErrors, BODY_TOO_LARGE, failsWith, invalidRequest } from '../common/openapi/error-responses.js';
import { EmailParamDto } from './email.dto.js';
import { CreateUserDto, UserView } from './users.dto.js';
import { UsersService } from './users.service.js';

@ApiTags('users')
@ApiBearerAuth()
@ApiErrors(...USER_ERRORS)
@UseGuards(HttpAuthGuard)
@Controller('users')
export class UsersController {
  @Get('me')
  @ApiOperation({ summary: 'The caller, loaded from the database' })
  @ApiOkResponse({ type: UserView, description: 'The caller' })
  me(@CurrentUser() user: AuthenticatedUser): UserView {
    return UserView.of(user);
  }
}

@ApiTags('admin')
@ApiBearerAuth()
@ApiErrors(...ADMIN_ERRORS)
@UseGuards(HttpAuthGuard, AdminGuard)
@Controller('admin/users')
export class AdminUsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  @ApiOperation({ summary: 'Create a user' })
  @ApiCreatedResponse({
    type: UserView,
    description: 'The new user',
    links: { GetUser: { operationId: 'AdminUsersController_get', parameters: { email: '$response.body#/email' } } },
  })
  @ApiErrors(
    invalidRequest('The body is not a valid new user'),
    BODY_TOO_LARGE,
    failsWith(ErrorCode.Conflict, 'A user with this email (compared case-insensitively) already exists'),
  )
  async create(@Body() body: CreateUserDto): Promise<UserView> {
    const user = await this.users.create({ email: body.email, tier: body.tier, admin: body.admin, displayName: body.display_name });
    return UserView.of(user);
  }

  @Get(':email')
  @ApiOperation({ summary: 'A user' })
  @ApiOkResponse({ type: UserView, description: 'The user' })
  @ApiErrors(invalidRequest('The path does not name an email'), failsWith(ErrorCode.NotFound, 'No user has this email'))
  async get(@Param() params: EmailParamDto): Promise<UserView> {
    return UserView.of(await this.users.getByEmail(params.email));
  }
}
