import type { Model, mongo } from 'mongoose';

/**
 * The driver's collection behind a model, typed by its documents. For hot bulk paths whose writes are
 * built whole in code: the driver takes them as they are, without mongoose casting each operation.
 */
export function driverCollection<T extends { _id: unknown }>(model: Model<T>): mongo.Collection<T> {
  return model.collection as unknown as mongo.Collection<T>;
}
