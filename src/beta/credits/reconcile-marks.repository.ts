import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model } from 'mongoose';
import { ReconcileMark } from './reconcile-mark.schema.js';

const CREDITS = 'credits';

@Injectable()
export class ReconcileMarksRepository {
  constructor(@InjectModel(ReconcileMark.name) private readonly marks: Model<ReconcileMark>) {}

  /** When the last complete reconcile began; undefined before the first. */
  async lastRunStartedAt(): Promise<number | undefined> {
    return (await this.marks.findById(CREDITS).lean<ReconcileMark>().exec())?.run_started_at;
  }

  /** Records a complete run that began at `startedAtMs`; never moves the mark back (two runs may overlap). */
  async recordRun(startedAtMs: number): Promise<void> {
    await this.marks.updateOne({ _id: CREDITS }, { $max: { run_started_at: startedAtMs } }, { upsert: true }).exec();
  }
}
