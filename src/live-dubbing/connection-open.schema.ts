import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/** Recent session opens of one user (a rolling window shared by every instance), keyed by user id. */
@Schema({ collection: 'ws_connection_opens', versionKey: false })
export class ConnectionOpens {
  @Prop({ type: String, required: true })
  _id!: string;

  @Prop({ type: Number, required: true, default: 0 })
  version!: number;

  @Prop({ type: [Number], default: [] })
  opened_at!: number[];
}

export const ConnectionOpensSchema = SchemaFactory.createForClass(ConnectionOpens);
// Every compare-and-set matches exactly these keys, which the embedded server can then look up by index.
ConnectionOpensSchema.index({ _id: 1, version: 1 }, { unique: true });
