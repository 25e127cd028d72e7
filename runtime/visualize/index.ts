/** Feature-map pictures: channel grids and activation heatmaps in viridis, with bitmap-font labels. */
export { channelGrid, activationHeatmap, channelMeans, topChannels, encodePng, encodeGreyPng, type FeatureMap, type ChannelGridOptions } from "./render.js";
export { viridis, VIRIDIS } from "./colormap.js";
export { drawDetections, maskGreyLevels, type DrawnDetections } from "./detections.js";
