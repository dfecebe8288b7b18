import { Injectable, Module } from '@nestjs/common';
import { getConnectionToken } from '@nestjs/mongoose';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Connection } from 'mongoose';
import { CommonModule } from '../../src/common/common.module.js';
import { AppConfig, loadAppConfig } from '../../src/config/app-config.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { DatabaseHealth, PROBE_INTERVAL_MS } from '../../src/database/database-health.js';
import { DatabaseModule } from '../../src/database/database.module.js';
import { testEnvironment } from '../harness/app.js';
import { startDatabaseProcess, stopAllProcesses, type DatabaseProcess } from '../harness/processes.js';

/** The product's promise: opens and resumes fail within 2 s of the database becoming unreachable. */
const DETECTED_WITHIN_MS = 2000;
const TEST_TIMEOUT_MS = 60_000;

/** A module that imports nothing, as a consumer such as the live gateways would: DatabaseHealth comes from the global DatabaseModule. */
@Injectable()
class Consumer {
  constructor(readonly health: DatabaseHealth) {}
}

@Module({ providers: [Consumer] })
class ConsumerModule {}

/**
 * DatabaseHealth on a real embedded database process (real time, the real driver and its timeouts): frozen with
 * SIGSTOP, thawed, killed.
 */
describe('DatabaseHealth on a real database process', () => {
  let moduleRef: TestingModule | undefined;

  afterEach(async () => {
    await stopAllProcesses();
    await moduleRef?.close();
    moduleRef = undefined;
  });

  async function healthOn(database: DatabaseProcess): Promise<DatabaseHealth> {
    moduleRef = await Test.createTestingModule({ imports: [ConfigModule, CommonModule, DatabaseModule, ConsumerModule] })
      .overrideProvider(AppConfig)
      .useValue(loadAppConfig(testEnvironment({ MONGODB_URI: database.uri('health') })))
      .compile();
    await moduleRef.init();
    return moduleRef.get(Consumer).health;
  }

  /** Ms from now until `health` turns `reachable`; rejects when that takes longer than `timeoutMs`. */
  function turns(health: DatabaseHealth, reachable: boolean, timeoutMs: number): Promise<number> {
    const from = Date.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`Still ${health.reachable ? 'reachable' : 'unreachable'} after ${timeoutMs} ms`));
      }, timeoutMs);
      const unsubscribe = health.onChange((now) => {
        if (now === reachable) {
          clearTimeout(timer);
          unsubscribe();
          resolve(Date.now() - from);
        }
      });
    });
  }

  it(
    'turns unreachable within 2 s of a freeze, reachable again at the thaw, unreachable within 2 s of a kill',
    async () => {
      const database = await startDatabaseProcess();
      const health = await healthOn(database);
      expect(health.reachable).toBe(true);
      // A few answered pings first, so the freeze lands in the usual cadence.
      await new Promise((resolve) => setTimeout(resolve, 3 * PROBE_INTERVAL_MS));
      expect(health.reachable).toBe(true);

      const frozen = turns(health, false, 5000);
      database.freeze();
      const freezeDetectedMs = await frozen;
      expect(() => health.assertReachable()).toThrow(expect.objectContaining({ code: 'service_unavailable', closeCode: 1013 }));

      const thawed = turns(health, true, 10_000);
      database.thaw();
      const thawDetectedMs = await thawed;
      expect(() => health.assertReachable()).not.toThrow();

      await new Promise((resolve) => setTimeout(resolve, 3 * PROBE_INTERVAL_MS));
      const killed = turns(health, false, 5000);
      await database.kill();
      const killDetectedMs = await killed;

      console.log(`DatabaseHealth detection: freeze ${freezeDetectedMs} ms, thaw ${thawDetectedMs} ms, kill ${killDetectedMs} ms`);
      expect(freezeDetectedMs).toBeLessThan(DETECTED_WITHIN_MS);
      expect(killDetectedMs).toBeLessThan(DETECTED_WITHIN_MS);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'pings on a connection of its own: the application’s connection busy (here: closed) is not the database gone',
    async () => {
      const database = await startDatabaseProcess();
      const health = await healthOn(database);
      await moduleRef!.get<Connection>(getConnectionToken()).close();
      const changes: boolean[] = [];
      health.onChange((reachable) => changes.push(reachable));
      await new Promise((resolve) => setTimeout(resolve, 6 * PROBE_INTERVAL_MS));
      expect({ reachable: health.reachable, changes }).toEqual({ reachable: true, changes: [] });
    },
    TEST_TIMEOUT_MS,
  );
});
