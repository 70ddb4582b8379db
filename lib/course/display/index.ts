// Display helpers for notebooks: image grids, plotly figures with a static fallback, raw MIME bundles.
export { imageGridPng, showImages } from './image_grid';
export type { ImageGridOptions, ImageInput, RawImages } from './image_grid';
export { showPlot, plotBundle, plotlyLoaderBundle, PLOTLY_MIME } from './plot';
export type { ShowPlotOptions } from './plot';
export { plotToSvg } from './svg_fallback';
export { showAnimation, animationBundle, animatedGif } from './animation';
export type { AnimationOptions } from './animation';
export { showSlider, sliderFigure, imageMosaic, imageMosaicTrace, imageMosaicLayout } from './slider';
export type { SliderFrame, SliderOptions, SliderFigure } from './slider';
export type { PlotTrace, PlotLayout, AxisLayout, PlotFrame } from './plot_types';
export { inKernel, sendDisplay, newDisplayId } from '../../core/kernel_display';
export type { MimeBundle, DisplayOptions } from '../../core/kernel_display';
