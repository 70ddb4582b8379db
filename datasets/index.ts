// Everything the notebooks need from the data sets, in one import.
export * from './boxes';
export { CACHE_FORMAT_VERSION, cacheDir } from './cache';
export type { LoadOptions } from './cached-loader';
export * from './fashion-mnist';
export * from './imageset';
export * from './mnist';
export * from './registry';
export * from './shapes';
export * from './toy2d';
export * from './video_shapes';
