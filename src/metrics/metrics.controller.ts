import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ErrorCode } from '../common/errors/domain-error.js';
import { ApiErrors, failsWith } from '../common/openapi/error-responses.js';
import { METRICS_SECURITY } from '../common/openapi/openapi-document.js';
import { MetricsTokenGuard } from './metrics-token.guard.js';
import { MetricsService } from './metrics.service.js';

@ApiTags('ops')
@ApiSecurity(METRICS_SECURITY)
@ApiErrors(failsWith(ErrorCode.Unauthorized, 'The request does not bear the METRICS_TOKEN'))
@UseGuards(MetricsTokenGuard)
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @ApiOperation({ summary: 'Prometheus metrics; bearer METRICS_TOKEN when it is set, open otherwise' })
  @ApiOkResponse({
    description: 'The Prometheus text exposition format',
    content: { 'text/plain': { schema: { type: 'string' }, example: '# TYPE live_dubbing_sessions gauge\nlive_dubbing_sessions 0\n' } },
  })
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  render(): Promise<string> {
    return this.metrics.render();
  }
}
