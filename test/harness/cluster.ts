import { openDatabaseContext, type DatabaseContext } from './database-context.js';
import { startDatabaseProcess, startInstance, type DatabaseProcess, type ServiceInstance } from './processes.js';

export interface Cluster {
  database: DatabaseProcess;
  instances: ServiceInstance[];
  /** The same database, from the test process; the caller closes it (after stopAllProcesses). */
  ctx: DatabaseContext;
}

/** A database process of its own and one service instance per label on it, all with `env`. */
export async function startCluster(labels: string[], env: Record<string, string>, databaseLabel: string): Promise<Cluster> {
  const database = await startDatabaseProcess();
  const uri = database.uri(databaseLabel);
  const instances = await Promise.all(labels.map((label) => startInstance({ MONGODB_URI: uri, ...env }, { label })));
  return { database, instances, ctx: await openDatabaseContext(uri) };
}
