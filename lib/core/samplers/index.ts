// The samplers by name, so a lesson can compare them with one line each:
//   makeSampler('ddpm' | 'ddim' | 'dpm++2m' | 'plms', schedule, opts).sample(model, shape, { steps, rng })
// Each is a plan plus a step (types.ts), driven by the one loop in loop.ts.
import { NoiseSchedule, TimestepSpacing } from '../schedule';
import { DDIMSampler } from './ddim';
import { DDPMSampler, DDPMVariance } from './ddpm';
import { DPMSolverSampler, DPMSpacing } from './dpm_solver';
import { PLMSSampler } from './plms';
import { Sampler } from './types';

export { DDIMSampler } from './ddim';
export type { DDIMOptions, DDIMRun } from './ddim';
export { DDPMSampler, ddpmStepCoefs } from './ddpm';
export type { DDPMOptions, DDPMRun, DDPMVariance } from './ddpm';
export { DPMSolverSampler, dpmSolverStepCoefs, logSnrTimesteps } from './dpm_solver';
export type { DPMSolverOptions, DPMSolverRun, DPMSpacing } from './dpm_solver';
export { PLMSSampler, PLMS_WEIGHTS } from './plms';
export type { PLMSOptions, PLMSRun } from './plms';
export { sampleLoop } from './loop';
export * from './types';

export type SamplerName = 'ddpm' | 'ddim' | 'dpm++2m' | 'plms';
export const SAMPLER_NAMES: readonly SamplerName[] = ['ddpm', 'ddim', 'dpm++2m', 'plms'];

export interface SamplerDefaults {
  /** Timestep spacing (default: 'trailing' for ddpm/ddim/plms, 'logsnr' for dpm++2m, which alone accepts 'logsnr'). */
  spacing?: DPMSpacing;
  /** DDIM only: 0 deterministic .. 1 DDPM-like. */
  eta?: number;
  /** DDPM only. */
  variance?: DDPMVariance;
}

export function makeSampler(name: SamplerName, schedule: NoiseSchedule, opts: SamplerDefaults = {}): Sampler {
  if (opts.eta !== undefined && name !== 'ddim')
    throw new Error(`makeSampler: eta applies to 'ddim' only, not '${name}'`);
  if (opts.spacing === 'logsnr' && name !== 'dpm++2m')
    throw new Error(`makeSampler: spacing 'logsnr' applies to 'dpm++2m' only, not '${name}'`);
  if (opts.variance !== undefined && name !== 'ddpm')
    throw new Error(`makeSampler: variance applies to 'ddpm' only, not '${name}'`);
  switch (name) {
    case 'ddpm':
      return new DDPMSampler(schedule, {
        spacing: opts.spacing as TimestepSpacing | undefined,
        variance: opts.variance,
      });
    case 'ddim':
      return new DDIMSampler(schedule, { spacing: opts.spacing as TimestepSpacing | undefined, eta: opts.eta });
    case 'dpm++2m':
      return new DPMSolverSampler(schedule, { spacing: opts.spacing });
    case 'plms':
      return new PLMSSampler(schedule, { spacing: opts.spacing as TimestepSpacing | undefined });
    default:
      throw new Error(`Unknown sampler '${name as string}': use ${SAMPLER_NAMES.join(', ')}`);
  }
}
