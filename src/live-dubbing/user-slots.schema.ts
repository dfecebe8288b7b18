import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/** One session that occupies a slot of its user, and when the slot was taken (before its record is written). */
@Schema({ _id: false, versionKey: false })
export class UserSlot {
  @Prop({ type: String, required: true })
  session_id!: string;

  @Prop({ type: Number, required: true })
  taken_at!: number;
}

/**
 * The sessions that occupy one user's slots, keyed by user id (docs/protocol.md, "Sessions per user").
 * Every change is a compare-and-set on `version`, so of two openings that read the same slots only one adds to them.
 */
@Schema({ collection: 'live_user_slots', versionKey: false })
export class UserSlots {
  @Prop({ type: String, required: true })
  _id!: string;

  @Prop({ type: Number, required: true, default: 0 })
  version!: number;

  @Prop({ type: [SchemaFactory.createForClass(UserSlot)], default: [] })
  slots!: UserSlot[];
}

export const UserSlotsSchema = SchemaFactory.createForClass(UserSlots);
// Every compare-and-set matches exactly these keys, which the embedded server can then look up by index.
UserSlotsSchema.index({ _id: 1, version: 1 }, { unique: true });
