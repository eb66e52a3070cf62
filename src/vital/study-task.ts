/** A layer study as a pool task, so that `flowedit layers` runs it on an inference worker. */
import type { Settings } from '../edit/frames/settings.js';
import { defineTask, type PackRef } from '../jobs/pool-task.js';
import type { AnalysisTask } from './calibration.js';
import type { LoadedCalibrationCase } from './calibration-media.js';
import { studyLayers, type LayerStudy, type StudyOptions, type StudyProgress } from './study.js';

export interface StudyTaskInput extends PackRef {
  readonly sets: readonly (readonly LoadedCalibrationCase[])[];
  readonly task: AnalysisTask;
  readonly base: Settings;
  readonly options: StudyOptions;
}

export const studyTask = defineTask<StudyTaskInput, LayerStudy, StudyProgress>(import.meta.url, 'studyTask', (pack, i, run) => studyLayers(pack, i.sets, i.task, i.base, i.options, run));
