// Lesson 17's video diffusion layers, in one import (notebooks: './lib/methods/video/index').
export * from './frames';
export * from './relative_position';
export * from './temporal_attention';
export * from './temporal_conv';
export * from './temporal_hook';
export * from './video_text';
export * from './video_loss';
export * from './from_image_model';
export * from './video_batches';
export * from './checkpoint';
export * from './sample_video';
export * from './predict_frames';
