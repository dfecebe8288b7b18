import { Controller, Get, HttpStatus } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, MongooseHealthIndicator } from '@nestjs/terminus';
import { ApiErrors } from '../common/openapi/error-responses.js';

const INDICATORS = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string', enum: ['up', 'degraded', 'down'] } },
  },
  example: { database: { status: 'up' } },
};

@ApiTags('ops')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly mongoose: MongooseHealthIndicator,
  ) {}

  @Get()
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({ summary: 'Whether the database answers a ping' })
  @ApiOkResponse({
    description: 'The database answers',
    schema: {
      type: 'object',
      required: ['status', 'info', 'error', 'details'],
      properties: { status: { type: 'string', enum: ['ok', 'degraded'] }, info: INDICATORS, error: INDICATORS, details: INDICATORS },
    },
  })
  @ApiErrors({ status: HttpStatus.SERVICE_UNAVAILABLE, description: 'The database does not answer the ping within 2 s' })
  check() {
    return this.health.check([() => this.mongoose.pingCheck('database', { timeout: 2000 })]);
  }
}
