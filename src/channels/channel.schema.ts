import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';

@Schema({ collection: 'channels', timestamps: { createdAt: 'created_at', updatedAt: 'updated_at' } })
export class Channel {
  /** The channel id is the document key, so lookups by id use the primary index on every server. */
  @Prop({ type: String, required: true })
  _id!: string;

  @Prop({ type: String, required: true })
  name!: string;

  @Prop({ type: Boolean, default: true })
  is_live!: boolean;

  @Prop({ type: Boolean, default: true })
  supports_dubbing!: boolean;

  @Prop({ type: String, required: true })
  source_language!: string;

  @Prop({ type: [String], default: [] })
  dubbing_languages!: string[];
}

export const ChannelSchema = SchemaFactory.createForClass(Channel);
