import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

/** Programme membership, keyed by lower-cased email (the seed's `beta_users {email, is_beta_user}`). */
@Schema({ collection: 'beta_users', versionKey: false, timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' } })
export class BetaUser {
  @Prop({ type: String, required: true })
  _id!: string;

  @Prop({ type: String, required: true })
  email!: string;

  @Prop({ type: Boolean, required: true })
  is_beta_user!: boolean;

  @Prop({ type: Date, required: true })
  enrolled_at!: Date;

  @Prop({ type: String, required: true })
  enrolled_via!: string;

  @Prop({ type: Date })
  revoked_at?: Date;
}

export const BetaUserSchema = SchemaFactory.createForClass(BetaUser);
