import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/**
 * Where the incremental reconcile starts (docs/credits.md, "Reconcile"): the instant the last complete run began,
 * on the clock of the instance that ran it. One document.
 */
@Schema({ collection: 'beta_reconcile_marks', versionKey: false })
export class ReconcileMark {
  @Prop({ type: String, required: true })
  _id!: string;

  /** Epoch ms. */
  @Prop({ type: Number, required: true })
  run_started_at!: number;
}

export const ReconcileMarkSchema = SchemaFactory.createForClass(ReconcileMark);
