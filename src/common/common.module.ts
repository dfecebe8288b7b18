import { Global, Module } from '@nestjs/common';
import { Clock, SystemClock } from './clock.js';
import { InstanceIdentity } from './instance-identity.js';

@Global()
@Module({
  providers: [{ provide: Clock, useClass: SystemClock }, InstanceIdentity],
  exports: [Clock, InstanceIdentity],
})
export class CommonModule {}
